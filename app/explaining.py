"""The `explain` command: resolve the scorer, the model, the taxonomy and the rules; write the report."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from vadagent.agents.explain.run import explain_video, write_report
from vadagent.app.report_html import write_html
from vadagent.app.scoring import candidate_policy, scorer_config
from vadagent.config import Settings, write_run_manifest
from vadagent.devices import pick_device
from vadagent.errors import UsageError
from vadagent.rules import RuleSet, default_rules
from vadagent.taxonomy import load_taxonomy
from vadagent.tools.detector import load_detector
from vadagent.tools.scorer import Scorer, SourceSpec
from vadagent.tools.scorer.scorer import opening_of
from vadagent.tools.vlm import VLMClient, VLMUnavailable, client_from_settings
from vadagent.tools.vlm.spec import DEFAULT_LOCAL_MODEL

EXIT_NOT_EXPLAINED = 3


def opening_as_normal(video: str, folder_fps: float = 25.0) -> tuple[list[str], str]:
    """The video's opening as its normal footage, and a sentence for the report that says so."""
    opening = opening_of(video, folder_fps).end_s
    note = (f"No --normal footage or --scorer: the scorer was fitted on the first {opening:g} s of this video, taken as "
            "normal, so its threshold rests on little footage; candidates may lie below it (marked below_threshold), taken to "
            "cover every stretch of the video. Give the site's normal footage (--normal) for a better baseline.")
    return [f"{video}#t=0,{opening:g}"], note


def explain_command(settings: Settings, video: str, output: Path, *, vlm: str | None, scorer_dir: Path | None,
                    normal: list[str], taxonomy: str | None, rules_file: Path | None, fps: float | None,
                    console: Console, client: VLMClient | None = None, load_client: bool = True) -> int:
    """`load_client=False`: use `client` as given (a caller that already loaded one, or knows there is none).
    With neither a scorer nor normal footage, the scorer is fitted on the video's opening (said, and noted)."""
    if scorer_dir is not None and normal:
        raise UsageError("give either --scorer DIR (from 'vadagent fit') or --normal FOOTAGE to fit on, not both")
    folder_fps = fps or settings.video.folder_fps
    opening_note = None
    if scorer_dir is None and not normal:
        normal, opening_note = opening_as_normal(video, folder_fps)
        console.print(opening_note, highlight=False, soft_wrap=True)
    device = pick_device(settings.scorer.device)
    if scorer_dir is not None:
        scorer = Scorer.load(scorer_dir)
    else:
        config = scorer_config(settings)
        scorer = Scorer.fit([SourceSpec.parse(n) for n in normal], config, folder_fps=folder_fps, device=device)
    if client is None and load_client:
        try:
            client = client_from_settings(vlm or settings.vlm.model or DEFAULT_LOCAL_MODEL, settings.vlm)
        except VLMUnavailable as error:
            console.print(f"[yellow]no VLM:[/yellow] {escape(str(error))}", soft_wrap=True)
    prompts: list[dict] = []
    report, scored = explain_video(
        video, scorer, client, load_taxonomy(taxonomy or settings.taxonomy),
        RuleSet.from_yaml(rules_file) if rules_file else default_rules(), sigma=settings.scorer.smoothing_sigma,
        policy=candidate_policy(settings),
        folder_fps=folder_fps, device=device, prompts_log=prompts, detector=load_detector(device),
    )
    if opening_note:
        report.notes.insert(0, opening_note)
    write_report(output, report, scored, settings.scorer.smoothing_sigma, prompts)
    write_html(output / "report.html", report, scored.smoothed(settings.scorer.smoothing_sigma), folder_fps=folder_fps)
    write_run_manifest(output, settings, sys.argv)
    if not report.explained:
        console.print(f"detected {len(report.scorer.candidates)} candidate(s), not explained: "
                      f"{escape(report.notes[-1])} → {output}", soft_wrap=True)
        return EXIT_NOT_EXPLAINED
    confirmed = sum(e.verdict == "confirmed" for e in report.events)
    console.print(f"{len(report.scorer.candidates)} candidate(s), {len(report.events)} judged, {confirmed} confirmed, "
                  f"{report.usage.calls} VLM call(s) → {output}")
    return 0
