"""`vadagent eval …`: the benchmarks (detection, explanations, severity, Q&A)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vadagent.app.cli_shared import TIER_HELP, console, out, settings, tier_names

eval_app = typer.Typer(help="Benchmarks: detection, explanations, severity, Q&A.", no_args_is_help=True)


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

    eval_detect_command(settings(), dataset, root, tiers=tier_names(tiers, tier), sigma=sigma, as_json=as_json,
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
