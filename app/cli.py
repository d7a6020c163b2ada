"""The `vadagent` command. Exit codes: 0 success, 1 failure of the work, 2 bad usage or input,
3 detected but not explained (no VLM reachable). The `rules` and `eval` sub-commands are cli_rules.py's and
cli_eval.py's; what the three share (settings, consoles, the tier options), cli_shared.py's."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape
from rich.table import Table

from vadagent.app.cli_eval import eval_app
from vadagent.app.cli_rules import rules_app
from vadagent.app.cli_shared import TIER_HELP, VLM_HELP, State, console, out, settings, tier_names
from vadagent.config import load_settings
from vadagent.errors import VadagentError
from vadagent.logs import setup_logging

app = typer.Typer(
    name="vadagent", help="Find anomalies in video and explain them.", no_args_is_help=True,
    add_completion=False, pretty_exceptions_enable=False,
)
app.add_typer(rules_app, name="rules")
app.add_typer(eval_app, name="eval")


@app.callback()
def _root(
    config: Annotated[Path | None, typer.Option("--config", help="YAML settings file (env VADAGENT_CONFIG).")] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv for debug).")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or info logs.")] = False,
) -> None:
    State.config_file = config
    State.settings = load_settings(config, quiet=True if quiet else None)  # a bad config fails every command
    level = logging.WARNING if quiet or verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    setup_logging(level)
    if verbose == 0:  # transformers' own weight-loading bars are noise in a CLI
        # said through huggingface_hub, whose setting transformers reads when imported: importing
        # transformers here (and torch with it) cost every command 5 to 10 s, model or not
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()


@app.command()
def info(
    video: Annotated[str, typer.Argument(help="A video file or a folder of frames.")],
    fps: Annotated[float | None, typer.Option(help="Frame rate of a folder of frames.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show frame rate, frame count, duration and size of a video."""
    from vadagent.tools.video import open_video

    with open_video(video, folder_fps=fps or settings().video.folder_fps) as source:
        meta, levels, clock, picture = source.info, source.levels, source.clock, source.picture
    if as_json:
        out.print_json(json.dumps(meta.model_dump() | {"duration_s": meta.duration_s, "levels": levels, "clock": clock,
                                                       "picture": picture}))
        return
    table = Table(show_header=False, box=None)
    for key, value in [("path", meta.path), ("kind", meta.kind), ("codec", meta.codec), ("fps", f"{meta.fps:.3f}"),
                       ("frames", meta.frame_count), ("duration", f"{meta.duration_s:.2f} s"),
                       ("size", f"{meta.width}×{meta.height}")]:
        table.add_row(key, str(value))
    if levels is not None:  # a thermal camera's: how it is read (a scorer reads it by its normal footage's map)
        table.add_row("depth", f"deeper than 8 bits, read as 8 from levels {levels[0]:.6g} (black) to {levels[1]:.6g} (white)")
    if clock is not None:  # a phone's variable frame rate, a recorder's pauses: times are the recording's
        table.add_row("clock", clock)
    if picture is not None:  # a recorder's analog channel, a camcorder's HDV: sizes and pictures as a player shows them
        table.add_row("picture", picture)
    out.print(table)


@app.command()
def schema(name: Annotated[str | None, typer.Argument(help="Type name; omit to list them.")] = None) -> None:
    """Print the JSON schema of a vadagent type (VideoReport, AnomalyEvent, RuleSet, …)."""
    from vadagent.schema import SCHEMAS, json_schema

    if name is None:
        for known in SCHEMAS:
            out.print(known)
        return
    out.print_json(json.dumps(json_schema(name)))


@app.command()
def doctor(
    vlm: Annotated[str | None, typer.Option(help="Also check that this model string answers.")] = None,
) -> None:
    """Check the installation offline: decoders, torch device, a tiny VLM through the real loading path."""
    from vadagent.app.doctor import run_checks

    results = run_checks(vlm, settings())
    for check in results:
        mark = {True: "[green]ok[/green]  ", False: "[red]FAIL[/red]", None: "[yellow]note[/yellow]"}[check.ok]
        out.print(f"{mark} {escape(check.name)}: {escape(check.detail)}", soft_wrap=True)
    if any(c.ok is False for c in results):
        raise typer.Exit(1)


@app.command()
def fit(
    normal: Annotated[list[str], typer.Argument(help="Normal footage: videos, frame folders, or folders holding "
                                                     "them; PATH#t=0,20 takes 0–20 s.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Scorer folder to write.")],
    tiers: Annotated[str | None, typer.Option(help=f"Comma-separated scorer tiers to fuse: {TIER_HELP}")] = None,
    tier: Annotated[str | None, typer.Option(help="One scorer tier alone (same names as --tiers).")] = None,
    select: Annotated[bool | None, typer.Option(
        "--select/--no-select", help="Choose tiers and weights by self-validation on held-out normal footage "
                                     "with synthetic anomalies (the choice is written to scorer.json); "
                                     "default: on from 15 s of normal footage.")] = None,
    budget_s: Annotated[float | None, typer.Option(min=1, help="Training time of a learned tier, seconds.")] = None,
    fps: Annotated[float | None, typer.Option(help="Frame rate of frame folders.")] = None,
) -> None:
    """Fit a frame scorer on a site's normal footage."""
    from vadagent.app.scoring import fit_command

    fit_command(settings(), normal, output, tiers=tier_names(tiers, tier), fps=fps, console=console, select=select,
                budget_s=budget_s)


@app.command()
def score(
    video: Annotated[str, typer.Argument(help="A video file or a folder of frames.")],
    scorer: Annotated[Path, typer.Option("--scorer", help="Folder written by 'vadagent fit'.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for scores, candidates and the plot.")],
    sigma: Annotated[float | None, typer.Option(min=0, help="Gaussian smoothing sigma in frames (0: none).")] = None,
    fps: Annotated[float | None, typer.Option(help="Frame rate of a frame folder.")] = None,
) -> None:
    """Score every frame of a video with a fitted scorer and pick candidates."""
    from vadagent.app.scoring import score_command

    score_command(settings(), video, scorer, output, sigma=sigma, fps=fps, console=console)


@app.command()
def explain(
    video: Annotated[str, typer.Argument(help="A video file or a folder of frames.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the report.")],
    vlm: Annotated[str | None, typer.Option(help=VLM_HELP)] = None,
    scorer: Annotated[Path | None, typer.Option("--scorer", help="Scorer folder from 'vadagent fit'.")] = None,
    normal: Annotated[list[str] | None, typer.Option("--normal", help="Normal footage to fit on first (PATH#t=0,20).")] = None,
    taxonomy: Annotated[str | None, typer.Option(help="Shipped taxonomy name or a YAML file.")] = None,
    rules: Annotated[Path | None, typer.Option(help="RuleSet YAML.")] = None,
    fps: Annotated[float | None, typer.Option(help="Frame rate of frame folders.")] = None,
) -> None:
    """Detect and explain the anomalies of one video (exit 3: detected, not explained: no VLM)."""
    from vadagent.app.explaining import explain_command

    raise typer.Exit(explain_command(settings(), video, output, vlm=vlm, scorer_dir=scorer, normal=normal or [],
                                     taxonomy=taxonomy, rules_file=rules, fps=fps, console=console))


@app.command()
def report(
    folder: Annotated[Path, typer.Argument(help="A folder of videos (files, and folders of frame images), or a "
                                                "manifest: one video path per line, or JSONL of {video, scorer, site}.")],
    output: Annotated[str, typer.Option("--output", "-o", help="Folder for the reports and the index, or an fsspec URL "
                                                               "(s3://bucket/reports; the 'cloud' extra).")],
    vlm: Annotated[str | None, typer.Option(help=VLM_HELP)] = None,
    scorer: Annotated[Path | None, typer.Option("--scorer", help="Scorer folder from 'vadagent fit'.")] = None,
    normal: Annotated[list[str] | None, typer.Option("--normal", help="Normal footage to fit on first (PATH#t=0,20); "
                                                      "without it or --scorer each video is fitted on its opening.")] = None,
    taxonomy: Annotated[str | None, typer.Option(help="Shipped taxonomy name or a YAML file.")] = None,
    rules: Annotated[Path | None, typer.Option(help="RuleSet YAML.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Videos at once (default: what the model backend serves, "
                                                         "vlm.concurrency for a server or 1 in-process, plus one "
                                                         "scored meanwhile); with "
                                                         "--ray local, the CPUs of the local Ray instance.")] = None,
    ray: Annotated[str | None, typer.Option("--ray", help="Score on Ray: 'local' (a Ray instance on this machine) or "
                                                          "a cluster address (HOST:6379, ray://HOST:10001); needs "
                                                          "the 'ray' extra.")] = None,
    processes: Annotated[int | None, typer.Option(min=0, help="Processes that score videos on this machine (default: "
                                                             "one per two cores from four cores; 0: threads of "
                                                             "this process).")] = None,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Also the videos in the folder's subfolders, "
                                                                     "at any depth (a recorder's export by camera "
                                                                     "and day).")] = False,
    fps: Annotated[float | None, typer.Option(help="Frame rate of frame folders.")] = None,
) -> None:
    """Explain a folder of videos into one report each and an index; rerun to resume."""
    from vadagent.app.batch import report_command

    raise typer.Exit(report_command(settings(), folder, output, vlm=vlm, scorer_dir=scorer, normal=normal or [],
                                    taxonomy=taxonomy, rules_file=rules, console=console, workers=workers, ray=ray,
                                    processes=processes, recursive=recursive, fps=fps))


@app.command()
def chat(
    target: Annotated[Path, typer.Argument(help="A report.json (or its folder), or a video to explain first.")],
    vlm: Annotated[str | None, typer.Option(help=VLM_HELP)] = None,
    conversation: Annotated[str | None, typer.Option(help="Resume the conversation with this id.")] = None,
    memory: Annotated[Path | None, typer.Option(help="SQLite file holding conversations (default: beside the report).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to explain a video first.")] = None,
    normal: Annotated[list[str] | None, typer.Option("--normal", help="Normal footage to fit on, for a video.")] = None,
    scorer: Annotated[Path | None, typer.Option("--scorer", help="Scorer folder, for a video.")] = None,
    fps: Annotated[float | None, typer.Option(help="Frame rate of a folder of frames, for a video.")] = None,
) -> None:
    """Ask questions about a video or a report; lines on standard input work too (for scripts)."""
    from vadagent.app.chat_cmd import chat_command

    raise typer.Exit(chat_command(settings(), target, vlm=vlm, conversation=conversation, memory=memory, output=output,
                                  normal=normal or [], scorer=scorer, out=out, console=console, fps=fps))


@app.command()
def record(
    source: Annotated[str, typer.Argument(help="A stream URL, a device or a file.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The MP4 to write.")],
    seconds: Annotated[float, typer.Option(min=1, help="How long to record (Ctrl-C ends it early, keeping it).")] = 60.0,
) -> None:
    """Record a stretch of a camera as normal footage (then: vadagent fit FILE)."""
    from vadagent.app.record import record_command

    raise typer.Exit(record_command(source, output, seconds, console))


@app.command()
def watch(
    sources: Annotated[list[str], typer.Argument(help="Cameras: stream URLs (rtsp://, http://, udp://, …), devices "
                                                      "(/dev/video0) or files; SOURCE=SCORER_DIR gives one its scorer; "
                                                      "a .yaml file lists cameras (cameras: [{name, url, scorer, rules, "
                                                      "taxonomy, calls_per_minute, options}], paths relative to it; "
                                                      "options: FFmpeg input options such as {rtsp_transport: udp}).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for events.jsonl, events.sqlite, clips, "
                                                                "keyframes.")],
    scorer: Annotated[Path | None, typer.Option("--scorer", help="Scorer folder from 'vadagent fit' (for every "
                                                                 "camera without its own).")] = None,
    vlm: Annotated[str | None, typer.Option(help=VLM_HELP)] = None,
    taxonomy: Annotated[str | None, typer.Option(help="Shipped taxonomy name or a YAML file.")] = None,
    rules: Annotated[Path | None, typer.Option(help="RuleSet YAML.")] = None,
    webhook: Annotated[str | None, typer.Option(help="POST events as JSON to this URL (which: --alert).")] = None,
    alert: Annotated[Literal["all", "anomalies", "explained"], typer.Option(
        help="Which events the webhook is sent: every one, all but those the model judged normal, or only the "
             "anomalies the model explained (events.jsonl records every one).")] = "anomalies",
    alert_severity: Annotated[int, typer.Option(min=0, max=4, help="Send no explained event below this severity "
                                                                   "(0 none … 4 critical).")] = 0,
    realtime: Annotated[bool, typer.Option(help="Play files at their own frame rate (demos, tests).")] = False,
    loop: Annotated[bool, typer.Option(help="Start files again at their end.")] = False,
    before_s: Annotated[float, typer.Option(min=0, help="Context before a moment, seconds.")] = 3.0,
    after_s: Annotated[float, typer.Option(min=0, help="Context after a moment, seconds.")] = 2.0,
    queue: Annotated[int, typer.Option(min=1, help="Moments that may wait for the VLM, all cameras together.")] = 8,
    max_wait: Annotated[float, typer.Option(min=0, help="Seconds a closed moment may wait for the VLM before it is "
                                                       "recorded as not explained (0: no bound).")] = 60.0,
    keep_days: Annotated[float | None, typer.Option(min=0, help="Delete clips and keyframes older than this.")] = None,
    max_gb: Annotated[float | None, typer.Option(min=0, help="Keep clips and keyframes under this size.")] = None,
    processes: Annotated[int | None, typer.Option(min=0, help="Processes that read and score the cameras (default: "
                                                             "from four cores and two cameras, one per two cores, "
                                                             "at most one per camera; 0: threads of this "
                                                             "process).")] = None,
) -> None:
    """Score live cameras as frames arrive; explain and record what they flag (Ctrl-C stops cleanly)."""
    from vadagent.app.watch import WatchOptions, watch_command

    options = WatchOptions(before_s=before_s, after_s=after_s, queue_size=queue, max_wait_s=max_wait or None,
                           webhook=webhook, alert=alert, alert_severity=alert_severity, realtime=realtime, loop=loop,
                           keep_days=keep_days, max_gb=max_gb)
    raise typer.Exit(watch_command(settings(), sources, output, scorer_dir=scorer, vlm=vlm, taxonomy=taxonomy,
                                   rules_file=rules, options=options, console=console, processes=processes))


@app.command()
def ui(
    reports: Annotated[Path | None, typer.Option(help="A batch output folder (index.json) or a folder of reports.")] = None,
    vlm: Annotated[str | None, typer.Option(help="Model string for chat and for explaining uploads.")] = None,
    host: Annotated[str, typer.Option(help="Address to bind (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 7860,
    max_upload_mb: Annotated[int, typer.Option(min=1, help="Largest video upload accepted.")] = 200,
    workdir: Annotated[Path, typer.Option(help="Where uploads are explained.")] = Path("runs/ui"),
    live: Annotated[Path | None, typer.Option(help="A 'vadagent watch' output folder: adds the live page (cameras, "
                                                   "their scores, the latest events, chat about one).")] = None,
) -> None:
    """Open the web UI: pick or upload a video, see the timeline and events, chat beside it."""
    from vadagent.app.ui import UIOptions, launch

    raise typer.Exit(launch(settings(), UIOptions(reports, vlm, host, port, max_upload_mb, workdir, live),
                            console=console))


@app.command()
def serve(
    model: Annotated[str, typer.Argument(help="Hugging Face model id or folder.")] = "Qwen/Qwen2.5-VL-7B-Instruct",
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    served_name: Annotated[str | None, typer.Option(help="Name clients use (default: the model id).")] = None,
    max_model_len: Annotated[int, typer.Option(help="Context length.")] = 32768,
    gpu_memory_utilization: Annotated[float, typer.Option(help="Fraction of GPU memory vLLM may take.")] = 0.9,
) -> None:
    """Start a local vLLM server with the settings vadagent needs, and print the --vlm string.

    One replica per GPU: CUDA_VISIBLE_DEVICES=0 vadagent serve --port 8000, CUDA_VISIBLE_DEVICES=1 vadagent
    serve --port 8001, …; then --vlm vllm:MODEL@http://HOST:8000/v1,http://HOST:8001/v1 spreads the requests."""
    from vadagent.app.serve import ServeOptions
    from vadagent.app.serve import serve as run_server

    options = ServeOptions(model, host, port, served_name, max_model_len, gpu_memory_utilization)
    raise typer.Exit(run_server(options, print_line=out.print))


def main() -> None:
    """Console entry point: user errors become one line on stderr and their exit code."""
    try:
        app()  # standalone: typer handles --help and usage errors (exit 2) itself
    except VadagentError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
