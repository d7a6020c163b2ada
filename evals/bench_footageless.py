"""How a video given no normal footage is scored, judged on rendered clips with events (no test label is read).

    python evals/bench_footageless.py [--seeds 2] [--seed-from 100] [--seconds 40] [--schemes shipped,…] [--name NAME]
    python evals/bench_footageless.py --edited [--seeds 2] …   (edited videos: two cameras, cut from one to the other)

Without normal footage (`explain` or `report` with neither `--normal` nor `--scorer`) a video is fitted on its own
opening, its first quarter, and that opening is scored by a second scorer fitted on its last quarter
(`Scorer.fit_on_opening`: the `shipped` scheme). This renders clips of the two synthetic sites (the footpath of the
sample clip and the tests; the busy crowd of the busy-background scene) with one event each, set off inside the
opening, in the middle or near the end, and scores each clip as `explain` does (self-validation choosing each
stand-in's tiers and weights, from 15 s of it: clips of a minute or more). Other schemes, compared in the same run on
the same clips:

- `unselected`: release 47's scheme, every tier at equal weights (the stand-ins never self-validated);
- `objects_only`: the objects tier alone;
- `capped`: release 46's scheme, the opening and the closing at most CAPPED_S long (the same as `unselected` under a
  minute's video);
- `cross_fit`: the video cut into FOLDS contiguous folds, each scored by tiers fitted on the other folds (three
  quarters of the video to learn from, against the opening's quarter), with one background model of the whole video;
- `growing`: the same folds, each scored by the tiers fitted on every fold before it (the first by the last), as a
  camera's normal footage grows: an event is learnt only by the folds after it;
- `cleaned`: the `unselected` scheme, with the opening's scorer fitted without the stretches (a second either side) that the
  closing scorer flags in the opening, so an event there is not learnt as normal;
- `one_stand_in`: release 62's scheme for an edited video, one stand-in for the whole video, its first shot's opening
  (`shipped` fits each shot of MIN_SHOT_S or more on its own opening, cuts.py).

With `--edited`, each clip is an edited video: half of it the footpath (one background), then a cut to the busy crowd
of another site (another background, upside down: the rendered sites share a layout), each half with one event of the
same kind set off at the same share of it; the schemes default to `shipped,one_stand_in`.

Reports, per site, event kind and start: the frame AUC of the raw scores, and whether the product's candidates
(threshold, call budget, coverage floor, σ 3, as `explain` picks them) overlap the event; then, per scheme, the AUC
pooled over every clip (micro), the mean over clips, and the events found. The clips are rendered here; the labels
are the renderer's own, the sites' normal walkers are never labelled.
Writes evals/results/bench_footageless[_NAME].{md,json}.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d, median_filter

from vadagent.evals.common import add_results_argument, write_results
from vadagent.evals.detection import kept_mask, micro_auc
from vadagent.tools.scorer import Scorer, ScorerConfig
from vadagent.tools.scorer.calibration import surprisal, tail_calibration
from vadagent.tools.scorer.candidates import CandidatePolicy, pick_candidates
from vadagent.tools.scorer.footage import SourceSpec, background_sample, closing_of, opening_of, read_parts
from vadagent.tools.scorer.frames import working_size
from vadagent.tools.scorer.stand_in import stand_in
from vadagent.tools.scorer.tiers import Geometry, tier_class
from vadagent.tools.synthetic import ClipSpec, ClipTruth, render_clip, write_video
from vadagent.tools.video import open_video

SITES = {"footpath": (0.0, ("fast", "wrong_way", "loiter", "intruder")),
         "busy": (2.5, ("fast", "loiter", "intruder"))}  # the busy crowd goes both ways: a wrong-way walker is normal
STARTS = (0.1, 0.45, 0.75)  # an event's start, as a share of the clip: inside the opening, the middle, near the end
SIGMA = 3.0  # `explain`'s smoothing
FOLDS = 4
CAPPED_S = 15.0  # `capped`: the opening's cap of releases 1 to 46
MARGIN_S = 1.0  # `cleaned`: what is left out either side of a frame the closing scorer flags
MIN_KEPT_S = 3.0  # `cleaned`: less opening than this left, and the whole opening is fitted on


def shipped(path: Path) -> tuple[np.ndarray, float]:
    """Scores and threshold as `explain` makes them without normal footage."""
    scorer = Scorer.fit_on_opening(str(path))
    return scorer.score(str(path)).scores, scorer.threshold


def cross_fit(path: Path) -> tuple[np.ndarray, float]:
    """Each of FOLDS contiguous folds scored by the tiers fitted on all the others."""
    return _folds_scored(path, lambda held: [i for i in range(FOLDS) if i != held])


def growing(path: Path) -> tuple[np.ndarray, float]:
    """Each fold scored by the tiers fitted on every fold before it, the first by the last: the footage to learn
    from grows along the video, as a camera's would, and an event is learnt only by the folds after it."""
    return _folds_scored(path, lambda held: list(range(held)) if held else [FOLDS - 1])


def _folds_scored(path: Path, training: Callable[[int], list[int]]) -> tuple[np.ndarray, float]:
    """The video cut into FOLDS contiguous folds, each scored by the tiers fitted on the folds `training` names
    for it (the default tiers, equal weights, as a stand-in opening is fitted; one background model of the whole
    video); the threshold is the folds' mean."""
    config = replace(ScorerConfig(), select=False)
    with open_video(str(path)) as video:
        info = video.info
    geometry = Geometry(*working_size(info.width, info.height, config.max_side))
    tiers = {name: tier_class(name)(geometry) for name in config.tiers}
    for tier in tiers.values():
        if getattr(tier, "needs_background", False):
            tier.set_background(background_sample([SourceSpec(str(path))], [info], geometry, info.fps))
    cuts = np.linspace(0.0, info.duration_s, FOLDS + 1)
    folds = [SourceSpec(str(path), float(a), float(b) if i < FOLDS - 1 else None)
             for i, (a, b) in enumerate(zip(cuts[:-1], cuts[1:]))]
    parts = read_parts(tiers, folds, config, geometry, info.fps, fps=info.fps).parts
    scores, thresholds = [], []
    for held in range(FOLDS):
        fused_fit, fused_held = 0.0, 0.0
        for name, tier in tiers.items():
            raw = np.concatenate(tier.fit([parts[name][i] for i in training(held)]))
            calibration = tail_calibration(raw)
            fused_fit = fused_fit + surprisal(raw, calibration)
            fused_held = fused_held + surprisal(np.concatenate([tier.score(p).scores for p in parts[name][held]]),
                                                calibration)
        fit = median_filter(fused_fit, config.median_window, mode="nearest")
        mean, std = fit.mean(), fit.std()
        scores.append((median_filter(fused_held, config.median_window, mode="nearest") - mean) / std)
        thresholds.append(float(np.percentile((fit - mean) / std, config.threshold_percentile)))
    return np.concatenate(scores).astype(np.float32), float(np.mean(thresholds))


def capped(path: Path) -> tuple[np.ndarray, float]:
    """Release 46's scheme: the opening and the closing a quarter of the video, but at most CAPPED_S long."""
    config = replace(ScorerConfig(), select=False)
    with open_video(str(path)) as video:
        duration = video.info.duration_s
    quarter = min(CAPPED_S, duration / 4)
    scorer = Scorer.fit([SourceSpec(str(path), 0.0, round(quarter, 2))], config)
    scorer.fit_info["stand_in"] = True
    scorer.for_opening = Scorer.fit([SourceSpec(str(path), round(duration - quarter, 2))], config)
    return scorer.score(str(path)).scores, scorer.threshold


def cleaned(path: Path) -> tuple[np.ndarray, float]:
    """`unselected`, the opening's scorer fitted without what the closing scorer flags in the opening."""
    config = replace(ScorerConfig(), select=False)
    opening, closing = opening_of(str(path)), closing_of(str(path))
    closer = Scorer.fit([closing], config)
    with open_video(str(path)) as video:
        fps = video.info.fps
        flagged = np.flatnonzero(closer.score(video).scores[: int(opening.end_s * fps)] > closer.threshold)
    keep = np.ones(int(opening.end_s * fps), bool)
    for frame in flagged:
        keep[max(frame - int(MARGIN_S * fps), 0): frame + int(MARGIN_S * fps) + 1] = False
    edges = np.flatnonzero(np.diff(np.concatenate([[0], keep.astype(np.int8), [0]])))
    spans = [SourceSpec(str(path), round(a / fps, 3), round(b / fps, 3)) for a, b in zip(edges[::2], edges[1::2])
             if b - a >= 2]
    kept_s = sum(s.end_s - s.start_s for s in spans)
    scorer = Scorer.fit(spans if kept_s >= MIN_KEPT_S else [opening], config)
    scorer.fit_info |= {"stand_in": True, "sources": [{"path": str(path), "start_s": 0.0, "end_s": opening.end_s}]}
    scorer.for_opening = closer  # the opening scored by the closing scorer, as shipped
    return scorer.score(str(path)).scores, scorer.threshold


def unselected(path: Path) -> tuple[np.ndarray, float]:
    """Release 47's scheme: the shipped one with every tier at equal weights, never self-validated."""
    scorer = Scorer.fit_on_opening(str(path), ScorerConfig(select=False))
    return scorer.score(str(path)).scores, scorer.threshold


def objects_only(path: Path) -> tuple[np.ndarray, float]:
    """`shipped` with the objects tier alone."""
    scorer = Scorer.fit_on_opening(str(path), ScorerConfig(tiers=["objects"]))
    return scorer.score(str(path)).scores, scorer.threshold


def one_stand_in(path: Path) -> tuple[np.ndarray, float]:
    """Release 62's scheme: one stand-in for the whole video, fitted on its opening, whatever its cuts."""
    scorer = stand_in(Scorer, str(path), ScorerConfig(), (0.0, None), 25.0, "cpu", None)
    return scorer.score(str(path)).scores, scorer.threshold


SCHEMES: dict[str, Callable[[Path], tuple[np.ndarray, float]]] = {
    "shipped": shipped, "capped": capped, "cross_fit": cross_fit, "growing": growing, "cleaned": cleaned,
    "unselected": unselected, "objects_only": objects_only, "one_stand_in": one_stand_in}
EDITED_KINDS = ("fast", "loiter", "intruder")  # events both sites hold


def edited_clip(path: Path, kind: str, share: float, seconds: float, seed: int) -> ClipTruth:
    """The footpath (site 0) for half of `seconds`, then a cut to a busy crowd at site 1, seen upside down (the two
    sites share a layout, which a cut to another camera would not), each half with one `kind` event from `share` of it:
    the labels and events of both, the second's frames counted on from the cut."""
    half = seconds / 2
    parts = []
    for number, crowd in enumerate((0.0, 2.5)):
        part = path.with_name(f"{path.stem}_part{number}.mp4")
        truth = render_clip(ClipSpec(seconds=half, seed=seed, site=number, crowd=crowd,
                                     anomalies=[(kind, round(share * half, 1))]), part)
        with open_video(str(part)) as video:
            frames = [frame for batch in video.scan(gray=False, chunk=64) for frame in batch.frames]
        parts.append((truth, frames if number == 0 else [frame[::-1] for frame in frames]))
    (first, a), (second, b) = parts
    write_video(path, [*a, *b], first.fps)
    shift = len(a)
    events = first.events + [{**e, "start_frame": e["start_frame"] + shift, "end_frame": e["end_frame"] + shift}
                             for e in second.events]
    return ClipTruth(first.fps, len(a) + len(b), [*first.labels[:len(a)], *second.labels[:len(b)]], events)


def found(scores: np.ndarray, threshold: float, fps: float, events: list[dict]) -> list[bool]:
    """Whether the product's candidates overlap each event."""
    policy = CandidatePolicy()
    picked = pick_candidates(gaussian_filter1d(scores, SIGMA, mode="nearest"), fps, policy, threshold=threshold,
                             fill=policy.fills(True))
    kept = kept_mask(picked, len(scores))
    return [bool(kept[e["start_frame"]: e["end_frame"] + 1].any()) for e in events]


def auc(labels: list[np.ndarray], scores: list[np.ndarray]) -> float | None:
    """Frame AUC of clips pooled (each clip's labels and scores cut to the shorter), as every benchmark
    computes it (evals/detection.py); None where the frames hold one class only."""
    cut = [min(len(y), len(s)) for y, s in zip(labels, scores)]
    labels, scores = [y[:n] for y, n in zip(labels, cut)], [s[:n] for s, n in zip(scores, cut)]
    pooled = np.concatenate(labels)
    return round(micro_auc(labels, scores), 4) if 0 < pooled.sum() < len(pooled) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_results_argument(parser)
    parser.add_argument("--seeds", type=int, default=2, help="clips per site, event kind and start")
    parser.add_argument("--seed-from", type=int, default=100, help="the first clip's seed (another run: other clips)")
    parser.add_argument("--seconds", type=float, default=40.0, help="each clip's length")
    parser.add_argument("--schemes", default=None, help=f"of {', '.join(SCHEMES)} (default: all but one_stand_in; "
                        "with --edited, shipped,one_stand_in)")
    parser.add_argument("--edited", action="store_true", help="edited videos: a cut from one camera to another")
    parser.add_argument("--name", default="")
    args = parser.parse_args()
    schemes = (args.schemes or ("shipped,one_stand_in" if args.edited else
                                ",".join(name for name in SCHEMES if name != "one_stand_in"))).split(",")
    if unknown := set(schemes) - set(SCHEMES):
        parser.error(f"unknown scheme(s) {', '.join(sorted(unknown))}; choose from {', '.join(SCHEMES)}")
    logging.disable(logging.WARNING)  # each clip's stand-in fit warns as `explain` would
    clips, frames = [], {}  # frames: scheme → each clip's (labels, scores), for the pooled AUC
    with tempfile.TemporaryDirectory() as folder:
        for site, (crowd, kinds) in ({"edited": (None, EDITED_KINDS)} if args.edited else SITES).items():
            for kind in kinds:
                for share in STARTS:
                    for seed in range(args.seeds):
                        path = Path(folder) / f"{site}_{kind}_{share}_{seed}.mp4"
                        start = round(share * (args.seconds / 2 if args.edited else args.seconds), 1)
                        truth = edited_clip(path, kind, share, args.seconds, args.seed_from + seed) if args.edited else \
                            render_clip(ClipSpec(seconds=args.seconds, seed=args.seed_from + seed, crowd=crowd,
                                                 anomalies=[(kind, start)]), path)
                        row = {"site": site, "kind": kind, "start_s": start, "seed": args.seed_from + seed, "schemes": {}}
                        labels = np.asarray(truth.labels)
                        for name in schemes:
                            started = time.perf_counter()
                            scores, threshold = SCHEMES[name](path)
                            row["schemes"][name] = {
                                "auc": auc([labels], [scores]), "found": found(scores, threshold, truth.fps, truth.events),
                                "seconds": round(time.perf_counter() - started, 2), "threshold": round(threshold, 4)}
                            frames.setdefault(name, []).append((labels, scores))
                        clips.append(row)
                        print(f"{site:8s} {kind:9s} from {start:4.1f} s  " + "  ".join(
                            f"{n} {row['schemes'][n]['auc']}" for n in schemes), flush=True)
    result = {"edited": args.edited, "seconds": args.seconds, "seeds": args.seeds, "seed_from": args.seed_from,
              "folds": FOLDS, "margin_s": MARGIN_S,
              "summary": summary(clips, frames), "clips": clips}
    name = "bench_footageless" + ("_edited" if args.edited else "") + (f"_{args.name}" if args.name else "")
    write_results(name, result, markdown(result, schemes),
                  args.results)
    print(markdown(result, schemes))


def summary(clips: list[dict], frames: dict[str, list[tuple[np.ndarray, np.ndarray]]]) -> dict:
    out = {}
    for name, scored in frames.items():
        pooled = auc([labels for labels, _ in scored], [scores for _, scores in scored])
        aucs = [c["schemes"][name]["auc"] for c in clips if c["schemes"][name]["auc"] is not None]
        events = [f for c in clips for f in c["schemes"][name]["found"]]
        out[name] = {"pooled_auc": pooled, "mean_auc": round(float(np.mean(aucs)), 4),
                     "events_found": sum(events), "events": len(events),
                     "seconds_per_clip": round(float(np.mean([c["schemes"][name]["seconds"] for c in clips])), 2)}
    return out


def markdown(result: dict, schemes: list[str]) -> str:
    edited = result.get("edited")
    lines = ["# Scoring without normal footage, on rendered clips with events"
             + (": edited videos, cut from one camera to another" if edited else ""), "",
             f"Clips of {result['seconds']:g} s"
             + (" (the footpath for half, then a cut to a busy crowd at another site, an event in each half; starts are "
                "shares of a half)" if edited else "")
             + f", {result['seeds']} per site, event kind and start (seeds "
             f"{result['seed_from']}–{result['seed_from'] + result['seeds'] - 1}); each scored by "
             "every scheme (see the script's docstring). AUC: raw frame scores; found: the event overlapped by "
             "a candidate the product picks (σ 3).", "",
             "| scheme | AUC pooled | mean AUC per clip | events found | seconds per clip |", "|---|---|---|---|---|"]
    for name in schemes:
        s = result["summary"][name]
        lines.append(f"| {name} | {s['pooled_auc']} | {s['mean_auc']} | {s['events_found']}/{s['events']} | "
                     f"{s['seconds_per_clip']} |")
    lines += ["", "Per site, event and start (mean AUC over the seeds; events found):", "",
              "| site | event | starts at | " + " | ".join(schemes) + " |", "|---|---|---|" + "---|" * len(schemes)]
    cells: dict[tuple, list[dict]] = {}
    for clip in result["clips"]:
        cells.setdefault((clip["site"], clip["kind"], clip["start_s"]), []).append(clip)
    for (site, kind, start), group in cells.items():
        entries = []
        for name in schemes:
            aucs = [c["schemes"][name]["auc"] for c in group if c["schemes"][name]["auc"] is not None]
            hits = sum(f for c in group for f in c["schemes"][name]["found"])
            total = sum(len(c["schemes"][name]["found"]) for c in group)
            entries.append(f"{np.mean(aucs):.3f} ({hits}/{total})" if aucs else f"– ({hits}/{total})")
        lines.append(f"| {site} | {kind} | {start:g} s | " + " | ".join(entries) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
