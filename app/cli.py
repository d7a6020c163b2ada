"""The `vadagent` command. Exit codes: 0 success, 1 failure of the work, 2 bad usage or input,
3 detected but not explained (no VLM reachable)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vadagent.config import Settings, load_settings
from vadagent.errors import UsageError, VadagentError
from vadagent.logs import setup_logging

app = typer.Typer(
    name="vadagent", help="Find anomalies in video and explain them.", no_args_is_help=True,
    add_completion=False, pretty_exceptions_enable=False,
)
rules_app = typer.Typer(help="Author rules of normal and anomalous activity from normal samples.", no_args_is_help=True)
eval_app = typer.Typer(help="Benchmarks: detection, explanations, severity, Q&A.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
app.add_typer(eval_app, name="eval")

console = Console(stderr=True)
out = Console()


VLM_HELP = "Model string (default: settings vlm.model, else the in-process default)."


class State:
    settings: Settings | None = None
    config_file: Path | None = None


def _tier_help() -> str:
    from vadagent.tools.scorer.tiers import TIERS

    return "; ".join(f"{name} ({cls.summary})" for name, cls in TIERS.items()) + ". Default from settings: motion,objects."


TIER_HELP = _tier_help()


def _tiers(tiers: str | None, tier: str | None) -> list[str] | None:
    """--tiers a,b or --tier a, checked against the registry."""
    from vadagent.tools.scorer.tiers import tier_class

    if tiers and tier:
        raise UsageError("give --tiers A,B or --tier A, not both")
    names = [t.strip() for t in (tiers or tier or "").split(",") if t.strip()]
    for name in names:
        tier_class(name)
    return names or None


def settings() -> Settings:
    if State.settings is None:
        State.settings = load_settings(State.config_file)
    return State.settings


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
        meta = source.info
    if as_json:
        out.print_json(json.dumps(meta.model_dump() | {"duration_s": meta.duration_s}))
        return
    table = Table(show_header=False, box=None)
    for key, value in [("path", meta.path), ("kind", meta.kind), ("codec", meta.codec), ("fps", f"{meta.fps:.3f}"),
                       ("frames", meta.frame_count), ("duration", f"{meta.duration_s:.2f} s"),
                       ("size", f"{meta.width}×{meta.height}")]:
        table.add_row(key, str(value))
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
    normal: Annotated[list[str], typer.Argument(help="Normal footage: videos or frame folders; PATH#t=0,20 takes 0–20 s.")],
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

    fit_command(settings(), normal, output, tiers=_tiers(tiers, tier), fps=fps, console=console, select=select,
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
    folder: Annotated[Path, typer.Argument(help="A folder of videos, or a manifest: one video path per line, or JSONL "
                                                "of {video, scorer, site}.")],
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
) -> None:
    """Explain a folder of videos into one report each and an index; rerun to resume."""
    from vadagent.app.batch import report_command

    raise typer.Exit(report_command(settings(), folder, output, vlm=vlm, scorer_dir=scorer, normal=normal or [],
                                    taxonomy=taxonomy, rules_file=rules, console=console, workers=workers, ray=ray,
                                    processes=processes))


@app.command()
def chat(
    target: Annotated[Path, typer.Argument(help="A report.json (or its folder), or a video to explain first.")],
    vlm: Annotated[str | None, typer.Option(help=VLM_HELP)] = None,
    conversation: Annotated[str | None, typer.Option(help="Resume the conversation with this id.")] = None,
    memory: Annotated[Path | None, typer.Option(help="SQLite file holding conversations (default: beside the report).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to explain a video first.")] = None,
    normal: Annotated[list[str] | None, typer.Option("--normal", help="Normal footage to fit on, for a video.")] = None,
    scorer: Annotated[Path | None, typer.Option("--scorer", help="Scorer folder, for a video.")] = None,
) -> None:
    """Ask questions about a video or a report; lines on standard input work too (for scripts)."""
    from vadagent.app.chat_cmd import chat_command

    raise typer.Exit(chat_command(settings(), target, vlm=vlm, conversation=conversation, memory=memory, output=output,
                                  normal=normal or [], scorer=scorer, out=out, console=console))


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


@rules_app.command("induce")
def rules_induce(
    normal: Annotated[list[str], typer.Argument(help="Normal footage: videos, frame folders, PATH#t=START,END.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="RuleSet YAML to write.")],
    vlm: Annotated[str | None, typer.Option(help="Model string that describes frames (and induces rules).")] = None,
    site: Annotated[str, typer.Option(help="What the camera shows, e.g. 'a campus walkway'.")] = "the site",
    inducer: Annotated[str, typer.Option(help="'vlm': the model induces rules per batch; 'text': rules are the "
                                              "recurring phrases of the descriptions (normal rules only).")] = "vlm",
    frames: Annotated[int, typer.Option(min=1, help="Normal frames described for induction.")] = 32,
    heldout_frames: Annotated[int, typer.Option(min=1, help="Held-out normal frames described for validation.")] = 16,
    batch: Annotated[int, typer.Option(min=1, help="Frames per induction batch.")] = 8,
    min_support: Annotated[int, typer.Option(min=1, help="Batches a rule must recur in.")] = 2,
    max_false_alarm: Annotated[float, typer.Option(min=0, max=1, help="Anomaly rules firing on more held-out "
                                                                      "normal frames than this are removed.")] = 0.05,
    fps: Annotated[float | None, typer.Option(help="Frame rate of frame folders.")] = None,
) -> None:
    """Induce rules from normal footage: sample, describe, induce, aggregate, validate on held-out clips."""
    from vadagent.app.rules_cmd import induce_command

    if inducer not in {"vlm", "text"}:
        raise UsageError(f"--inducer must be 'vlm' or 'text', not {inducer!r}")
    raise typer.Exit(induce_command(settings(), normal, output, vlm=vlm, site=site, inducer=inducer, frames=frames,
                                    heldout_frames=heldout_frames, batch_size=batch, min_support=min_support,
                                    max_false_alarm=max_false_alarm, fps=fps, console=console))


@rules_app.command("validate")
def rules_validate(file: Annotated[Path, typer.Argument(help="RuleSet YAML.")]) -> None:
    """Check a (hand-edited) rule set: errors name the line; unknown fields are errors."""
    from vadagent.app.rules_cmd import validate_command

    raise typer.Exit(validate_command(file, out))


@rules_app.command("show")
def rules_show(file: Annotated[Path, typer.Argument(help="RuleSet YAML.")]) -> None:
    """Print a rule set readably: rules, provenance, validation figures, removed rules."""
    from vadagent.app.rules_cmd import show_command

    raise typer.Exit(show_command(file, out))


@rules_app.command("diff")
def rules_diff(a: Annotated[Path, typer.Argument(help="Old RuleSet YAML.")],
               b: Annotated[Path, typer.Argument(help="New RuleSet YAML.")]) -> None:
    """What changed between two rule sets, rule by rule."""
    from vadagent.app.rules_cmd import diff_command

    raise typer.Exit(diff_command(a, b, out))


@rules_app.command("test")
def rules_test(
    rules: Annotated[Path, typer.Argument(help="RuleSet YAML.")],
    video: Annotated[str, typer.Argument(help="A video file or frame folder.")],
    vlm: Annotated[str | None, typer.Option(help="Model string that describes frames.")] = None,
    every: Annotated[float, typer.Option(min=0.1, help="Seconds between described frames.")] = 2.0,
    fps: Annotated[float | None, typer.Option(help="Frame rate of a frame folder.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Which rules fire where in a video (frames described by the VLM, matched by meaning)."""
    from vadagent.app.rules_cmd import test_command

    raise typer.Exit(test_command(settings(), rules, video, vlm=vlm, every_s=every, fps=fps, as_json=as_json,
                                  out=out, console=console))


@rules_app.command("add")
def rules_add(
    file: Annotated[Path, typer.Argument(help="RuleSet YAML (created when missing).")],
    text: Annotated[str, typer.Argument(help="The rule, e.g. 'anyone without a helmet in zone B is an anomaly'.")],
    kind: Annotated[str, typer.Option(help="normal or anomaly.")] = "anomaly",
    subject: Annotated[str, typer.Option(help="human_activity, object, scene, conditional or other.")] = "other",
    rule_id: Annotated[str | None, typer.Option("--id", help="Rule id (default: the next free n#/a#).")] = None,
    open_world: Annotated[bool, typer.Option("--open-world", help="An open-world definition rather than a "
                                                                   "site observation.")] = False,
) -> None:
    """Add a hand-written rule or an open-world definition; the set's version goes up by one."""
    from vadagent.app.rules_cmd import add_command

    raise typer.Exit(add_command(file, text, kind=kind, subject=subject, rule_id=rule_id, open_world=open_world, out=out))


@rules_app.command("import")
def rules_import(
    file: Annotated[Path, typer.Argument(help="A rule file in another tool's format.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="RuleSet YAML to write.")],
    fmt: Annotated[str, typer.Option("--format", help="Source format: anomalyruler (rule_*.txt).")] = "anomalyruler",
    scene: Annotated[str | None, typer.Option(help="Scene name (default: from the file name).")] = None,
) -> None:
    """Convert another tool's rules (AnomalyRuler's rule_*.txt) into a RuleSet."""
    from vadagent.app.rules_cmd import import_command

    raise typer.Exit(import_command(file, output, fmt, scene, out))


@eval_app.command("detect")
def eval_detect(
    root: Annotated[Path, typer.Option(help="Dataset folder (its layout is checked; see 'vadagent eval list').")],
    dataset: Annotated[str, typer.Option(help="ucsd_ped2, ucsd_ped1, avenue, shanghaitech, ucf_crime or ucf_crime_sample "
                                              "(the last two have no normal footage: each video is fitted on its "
                                              "opening).")] = "ucsd_ped2",
    tiers: Annotated[str | None, typer.Option(help=f"Comma-separated scorer tiers to fuse: {TIER_HELP}")] = None,
    tier: Annotated[str | None, typer.Option(help="One scorer tier alone (same names as --tiers).")] = None,
    select: Annotated[bool | None, typer.Option("--select/--no-select", help="Self-validated tier choice.")] = None,
    normal_seconds: Annotated[float | None, typer.Option(
        min=1, help="Fit on the first S seconds of the normal footage only (little footage).")] = None,
    normal_from: Annotated[float, typer.Option(
        min=0, help="Fit on the normal footage from this second on (its clips played one after another; with "
                    "--normal-seconds, that many seconds of it): how much a scorer depends on the footage it had.")] = 0.0,
    sigma: Annotated[float | None, typer.Option(min=0, help="Smoothing sigma for the smoothed figures.")] = None,
    workers: Annotated[int, typer.Option(
        min=1, help="Test videos scored at once, each in its own process (a machine with more cores than one video "
                    "keeps busy: about 2 each); frames/s is then the pool's. 1: one after another.")] = 1,
    labels: Annotated[Path | None, typer.Option(
        help="The test frames' labels, where the dataset's folder does not hold them: a .npy of 0/1 per frame over "
             "the test clips in order (MNAD's frame_labels_ped2.npy), a .mat of [first; last] ranges per clip "
             "(FFP's ped2.mat) or UCSDpedN.m.")] = None,
    keep_scorers: Annotated[Path | None, typer.Option(
        help="Keep each camera's fitted scorer and each test video's scores in this folder, and reuse those made "
             "the same way (footage, settings, device, code): a run stopped part-way, or run again for other "
             "figures (--sigma), fits and scores only the rest. Without normal footage, each video's scorer, "
             "fitted on its opening, is kept with its scores.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    results: Annotated[Path | None, typer.Option(help="Results folder (default ./evals/results).")] = None,
) -> None:
    """Frame-level detection benchmark: AUC (micro/macro, raw/smoothed), event recall at a 10% budget, and the
    recall and calls per minute of the candidates the product would pick."""
    from vadagent.app.scoring import eval_detect_command

    eval_detect_command(settings(), dataset, root, tiers=_tiers(tiers, tier), sigma=sigma, as_json=as_json,
                        results=results, console=console, out=out, select=select, normal_seconds=normal_seconds,
                        normal_from=normal_from, workers=workers, labels=labels, keep_scorers=keep_scorers)


@eval_app.command("list")
def eval_list() -> None:
    """Datasets and benchmarks the harness supports."""
    from vadagent.app.evaluate import list_command

    list_command(out)


@eval_app.command("qa")
def eval_qa(
    file: Annotated[Path, typer.Argument(help="Multiple-choice JSONL (video, question, options, answer).")],
    vlm: Annotated[str, typer.Option(help="Model string, e.g. hf:PATH or vllm:MODEL@URL.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    results: Annotated[Path | None, typer.Option(help="Results folder.")] = None,
) -> None:
    """Multiple-choice video Q&A accuracy (VANE-Bench style)."""
    from vadagent.app.evaluate import qa_command

    qa_command(settings(), file, vlm, as_json, results, out)


@eval_app.command("explain")
def eval_explain(
    predictions: Annotated[Path, typer.Argument(help="JSONL of {video_id, text}.")],
    root: Annotated[Path, typer.Option(help="CUVA annotation folder (annotations/cuva of the data).")],
    aspect: Annotated[str, typer.Option(help="what, why or how.")] = "what",
    judge: Annotated[str | None, typer.Option(help="Model string of an LLM judge (MMEval aspects).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    results: Annotated[Path | None, typer.Option(help="Results folder.")] = None,
) -> None:
    """Explanation quality against CUVA references: BLEU, ROUGE-L, embedding similarity, LLM judge."""
    from vadagent.app.evaluate import explain_command

    explain_command(settings(), predictions, aspect, root, judge, as_json, results, out)


@eval_app.command("severity")
def eval_severity(
    file: Annotated[Path, typer.Argument(help="JSONL of {predicted, reference} severities 0–4.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    results: Annotated[Path | None, typer.Option(help="Results folder.")] = None,
) -> None:
    """Severity agreement: Spearman, Kendall, quadratic kappa, exact and within-one agreement."""
    from vadagent.app.evaluate import severity_command

    severity_command(file, as_json, results, out)


def main() -> None:
    """Console entry point: user errors become one line on stderr and their exit code."""
    try:
        app()  # standalone: typer handles --help and usage errors (exit 2) itself
    except VadagentError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
