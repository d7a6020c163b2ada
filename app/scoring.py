"""The `fit`, `score` and `eval detect` commands: argument handling, progress and output files."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from vadagent.app.outputs import writes_output
from vadagent.config import Settings, write_run_manifest
from vadagent.devices import pick_device
from vadagent.tools.scorer import CandidatePolicy, Scorer, ScorerConfig, ScoreResult, SourceSpec
from vadagent.tools.scorer.output import write_scores
from vadagent.tools.scorer.selection import (
    KIND_MEANING,
    PIXEL_CRITERION,
    STEADY_S,
    describe,
    left_out_unsteadily,
    unjudged,
    weakest,
)
from vadagent.tools.scorer.view import OTHER_VIEW_WORDS
from vadagent.tools.video.frame_folder import frame_files
from vadagent.types import Candidate, picture_part, place_of_box

SHOWN_CANDIDATES = 10  # `score` and `explain` list this many on the terminal; their JSON holds them all


@contextmanager
def progress_bar(console: Console, quiet: bool):
    """A callback `(stage, done, total)` drawing one rich bar per stage (nothing when quiet)."""
    if quiet or not console.is_terminal:
        yield None
        return
    tasks: dict[str, int] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("left"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:  # from where it stands: work kept from an earlier run is no speed of this one
                tasks[stage] = bar.add_task(stage, total=max(total, done), completed=done)
            bar.update(tasks[stage], completed=done, total=max(total, done))
        yield update


def _device(settings: Settings) -> str:
    return pick_device(settings.scorer.device)


def scorer_config(settings: Settings, *, tiers: list[str] | None = None, select: bool | None = None,
                  budget_s: float | None = None) -> ScorerConfig:
    """The one place settings (and command-line overrides) become a scorer configuration."""
    s = settings.scorer
    return ScorerConfig(tiers=list(tiers or s.tiers), select=s.select if select is None else select,
                        budget_s=budget_s or s.budget_s, max_side=s.max_side, flow=s.flow,
                        chunk_frames=settings.video.chunk_frames, max_footage_s=s.max_footage_s,
                        cover_display=s.cover_display,
                        params={name: dict(values) for name, values in s.params.items()})


def candidate_policy(settings: Settings) -> CandidatePolicy:
    """The one place the `candidates` settings become the picker's policy."""
    c = settings.candidates
    return CandidatePolicy(calls_per_minute=c.calls_per_minute, min_gap_s=c.min_gap_s, min_calls=c.min_calls,
                           window_s=c.window_s, fill_budget=c.fill_budget)


def fit_scorer(settings: Settings, sources: list[SourceSpec], config: ScorerConfig, console: Console, *,
               fps: float | None = None) -> Scorer:
    """Fit on normal footage with a bar per stage (reading, self-validation, fitting), saying what
    self-validation chose: the one way every front end fits a scorer."""
    folder_fps = fps or settings.video.folder_fps
    # its seconds are the scorer's (time ranges, windows, budgets); a folder without frames is refused by the fit,
    # and its rate is no news then
    folders = [spec.path for spec in sources if fps is None and not settings.quiet and Path(spec.path).is_dir()
               and frame_files(Path(spec.path))]
    if folders:
        console.print(f"{folders[0]}{' and other frame folders' if len(folders) > 1 else ''}: frames carry no rate; read "
                      f"at {folder_fps:g} frames/s (video.folder_fps); give --fps if they were filmed at another",
                      highlight=False)
    with progress_bar(console, settings.quiet) as progress:
        scorer = Scorer.fit(sources, config, folder_fps=folder_fps, device=_device(settings), progress=progress)
    log = scorer.fit_info.get("selection")
    if log and not settings.quiet:
        chosen = log["chosen"]
        console.print(f"self-validation chose {describe(chosen)} (AUC {chosen['auc']:.3f} on synthetic anomalies in "
                      "held-out normal footage)", highlight=False)
        if located := chosen.get("evidence"):
            console.print(f"  its evidence box (the region explain names) is on what was pasted in {located['touches']:.0%} "
                          f"of the synthetic anomalies' frames, and covers {PIXEL_CRITERION:.0%} of it in "
                          f"{located['covers']:.0%}", highlight=False)
        for kind, auc in weakest(chosen):
            console.print(f"  weak here: {KIND_MEANING.get(kind, kind)} (synthetic AUC {auc:.2f}); anomalies like it "
                          "may go unnoticed at this site", highlight=False)
        for kind in unjudged(log):
            console.print(f"  not judged: {KIND_MEANING.get(kind, kind)} (the held-out stretches of this footage are "
                          "too short to make it)", highlight=False)
        footage_s = footage_seconds(scorer, folder_fps)
        if dropped := left_out_unsteadily(log, config.tiers, footage_s):
            console.print(f"  {' and '.join(dropped)} left out on {footage_s:.0f} s of normal footage, where which tiers "
                          f"self-validation keeps varies with the seconds given; give {STEADY_S:g} s or more if you can, "
                          "or keep every tier (fit --no-select, or scorer.select: false in the settings)",
                          highlight=False)
    for note in [] if settings.quiet else [note for tier in scorer.tiers.values() for note in tier.fit_notes()]:
        console.print(note, highlight=False)
    for box in [] if settings.quiet or scorer.overlay is None else scorer.overlay.boxes:
        # a blind spot the user should know of: nothing that happens under the clock is seen
        where = picture_part(place_of_box(box, scorer.width, scorer.height))
        share = (box[2] - box[0]) * (box[3] - box[1]) / (scorer.width * scorer.height)
        console.print(f"a clock burned into the picture, at {where} ({share:.1%} of it), is covered in every frame scored: "
                      "nothing under it is seen (scorer.cover_display: false reads it as it comes)", highlight=False)
    return scorer


@writes_output
def fit_command(settings: Settings, normal: list[str], output: Path, *, tiers: list[str] | None, fps: float | None,
                console: Console, select: bool | None = None, budget_s: float | None = None) -> Scorer:
    config = scorer_config(settings, tiers=tiers, select=select, budget_s=budget_s)
    scorer = fit_scorer(settings, SourceSpec.each(normal), config, console, fps=fps)
    scorer.save(output)
    write_run_manifest(output, settings, sys.argv)
    if not settings.quiet:
        console.print(f"fitted {scorer.scorer_id} on {scorer.fit_info['frames']} frames in "
                      f"{scorer.fit_info['fit_seconds']:.1f} s → {output}")
    return scorer


def footage_seconds(scorer: Scorer, folder_fps: float = 25.0) -> float:
    """The seconds of normal footage `scorer` was fitted on (a variable-rate recording's frames are fewer than its
    seconds at its rate; a scorer saved before release 68 has only its frames)."""
    info = scorer.fit_info
    return info.get("seconds") or info["frames"] / (info.get("fps") or folder_fps)


def folder_rate(settings: Settings, fps: float | None, scorer: Scorer | None, videos: list[str],
                console: Console) -> float | None:
    """The rate folders of frames among `videos` are read at where `--fps` does not say: the settings' where they set
    one, else that of the footage `scorer` was fitted on (the same site's camera; a folder read at another rate has
    its motion scaled by the ratio and its times stretched by it), said; None: the settings' (a file carries its own)."""
    if fps is not None or scorer is None or not scorer.fps or "folder_fps" in settings.video.model_fields_set:
        return fps
    folders = [video for video in videos if Path(video).is_dir()]  # a folder without frames is refused where it is read
    if folders and not settings.quiet:
        console.print(f"{folders[0]}{' and other frame folders' if len(folders) > 1 else ''}: frames carry no rate; read "
                      f"at {scorer.fps:g} frames/s, as the scorer's footage was; give --fps if they were filmed at another",
                      highlight=False, soft_wrap=True)
    return scorer.fps if folders else None


@writes_output
def score_command(settings: Settings, video: str, scorer_dir: Path, output: Path, *, sigma: float | None,
                  fps: float | None, console: Console) -> tuple[ScoreResult, list[Candidate]]:
    scorer = Scorer.load(scorer_dir)
    sigma = settings.scorer.smoothing_sigma if sigma is None else sigma
    fps = folder_rate(settings, fps, scorer, [video], console)
    with progress_bar(console, settings.quiet) as progress:
        result = scorer.score(video, folder_fps=fps or settings.video.folder_fps, device=_device(settings),
                              progress=progress)
    candidates = result.candidates(candidate_policy(settings), sigma)
    write_scores(output, result, sigma, candidates)
    write_run_manifest(output, settings, sys.argv)
    say_other_view(console, result, video)
    if not settings.quiet:
        console.print(f"scored {len(result.scores)} frames at {len(result.scores) / result.seconds:.0f} frames/s; "
                      f"{_counted(candidates, result, candidate_policy(settings))} → {output}", highlight=False)
        show_candidates(console, candidates, output / "candidates.json")
    return result, candidates


def say_other_view(console: Console, scored: ScoreResult, video: str) -> None:
    """A video whose view was not the normal footage's throughout (`ScoreResult.other_view`): said, with what to do,
    as its candidates are then where it differs from another scene."""
    if scored.other_view:
        console.print(f"[yellow]{escape(video)}: {OTHER_VIEW_WORDS} Fit a scorer on this camera's own normal footage "
                      "('vadagent fit'), or give none to fit on the video's opening.[/yellow]", soft_wrap=True)


def show_candidates(console: Console, candidates: list[Candidate], listed_in: Path) -> None:
    """A line per candidate (at most SHOWN_CANDIDATES): when, how high, where its peak lies and what was unusual
    there, where the scorer says."""
    for c in candidates[:SHOWN_CANDIDATES]:
        where = f", {c.region.where}" if c.region else ""
        why = f": {c.region.why}" if c.region and c.region.why else ""
        below = " (below the threshold)" if c.below_threshold else ""
        console.print(f"  {c.start_s:.1f}–{c.end_s:.1f} s: peak {c.peak_score:.1f} at {c.peak_s:.1f} s{where}{below}{why}",
                      highlight=False)
    if len(candidates) > SHOWN_CANDIDATES:
        console.print(f"  … and {len(candidates) - SHOWN_CANDIDATES} more in {listed_in}", highlight=False)


def _counted(candidates: list[Candidate], result: ScoreResult, policy: CandidatePolicy) -> str:
    """How many candidates stand above the threshold, and how many below it and why."""
    below = sum(c.below_threshold for c in candidates)
    text = f"{len(candidates) - below} candidate(s) above threshold {result.threshold:.2f}"
    if below:
        why = f"a peak for every {policy.window_s:g} s"
        if result.stand_in:
            why += ", and the call budget filled: the video's opening stood in for normal footage"
        text += f", {below} below it ({why})"
    return text


def eval_detect_command(settings: Settings, dataset: str, root: Path, *, tiers: list[str] | None, sigma: float | None,
                        as_json: bool, results: Path | None, console: Console, out: Console,
                        select: bool | None = None, normal_seconds: float | None = None, normal_from: float = 0.0,
                        workers: int = 1, labels: Path | None = None, keep_scorers: Path | None = None) -> dict:
    from vadagent.evals.common import write_results
    from vadagent.evals.datasets import load_frame_dataset
    from vadagent.evals.detect import markdown, run_detect

    config = scorer_config(settings, tiers=tiers, select=select)
    device = _device(settings)
    try:
        with progress_bar(console, settings.quiet or as_json) as progress:
            sigma = settings.scorer.smoothing_sigma if sigma is None else sigma
            result = run_detect(load_frame_dataset(dataset, root, labels), config, sigma=sigma,
                                policy=candidate_policy(settings), device=device, progress=progress,
                                normal_seconds=normal_seconds, normal_from=normal_from, workers=workers,
                                keep_scorers=keep_scorers)
    except KeyboardInterrupt:  # Ctrl-C: ends as before (exit 130), saying where the work done is
        if keep_scorers is not None:
            console.print(f"stopped; what was finished is kept in {keep_scorers}: the same command goes on from "
                          "there", highlight=False, soft_wrap=True)
        raise
    name = (f"detect_{dataset}_{'+'.join(config.tiers)}" + {None: "", True: "_select", False: "_no-select"}[config.select]
            + (f"_{normal_seconds:g}s" if normal_seconds else "") + (f"_from{normal_from:g}s" if normal_from else "")
            + ("" if device == "cpu" else f"_{device}") + (f"_{workers}workers" if workers > 1 else ""))
    written = write_results(name, result, markdown(result), results)
    if as_json:
        out.print_json(json.dumps(result))
    else:
        out.print(markdown(result))
        console.print(f"written to {written}")
    return result
