"""Detection benchmark: fit the scorer on a dataset's normal training footage (or, for a dataset
without any, each test video on its own opening, as `explain` does), score its test videos, report
frame AUC (micro/macro, raw and smoothed), event recall at a frame budget, and the recall and cost
of the candidates the product itself would send to the VLM."""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, replace
from itertools import groupby
from pathlib import Path
from typing import TypeVar

import numpy as np

from vadagent.errors import UsageError
from vadagent.evals.datasets import FrameDataset, LabelledVideo
from vadagent.evals.detection import (
    PIXEL_CRITERION,
    average_precision,
    box_coverage,
    event_recall,
    events,
    kept_mask,
    macro_auc,
    micro_auc,
    micro_auc_min_max,
    micro_headroom,
    pixel_auc,
)
from vadagent.evals.kept_scorers import KeptScorers
from vadagent.tools.scorer import CandidatePolicy, Scorer, ScorerConfig, ScoreResult, SourceSpec, pick_candidates
from vadagent.tools.scorer.scorer import Progress
from vadagent.tools.scorer.selection import describe
from vadagent.tools.scorer.side_by_side import SideBySide
from vadagent.tools.scorer.tiers.objects import read_note
from vadagent.tools.video import open_video
from vadagent.tools.video.regular import RegularClock

BUDGET_FRACTION = 0.10
# the normal footage of a dataset without any
ON_OPENINGS = ("each video's opening (its first quarter), the opening itself by one fitted on its last quarter, as "
               "explain does without --normal")
T = TypeVar("T")


def first_seconds(paths: list, seconds: float | None, fps: float) -> list[SourceSpec]:
    """The normal footage cut to its first `seconds` (whole clips in order, the last one cut)."""
    return footage_between(paths, 0.0, seconds, fps)


def footage_seconds(paths: list, fps: float) -> float:
    """How long the clips last, played one after another."""
    total = 0.0
    for path in paths:
        with open_video(str(path), folder_fps=fps) as video:
            total += video.info.duration_s
    return total


def footage_between(paths: list, start_s: float, seconds: float | None, fps: float) -> list[SourceSpec]:
    """`seconds` of the clips played one after another, from `start_s` on (all of it for None)."""
    specs, clip_start = [], 0.0
    end_s = None if seconds is None else start_s + seconds
    for path in paths:
        if end_s is not None and clip_start >= end_s:
            break
        with open_video(str(path), folder_fps=fps) as video:
            duration = video.info.duration_s
        a, b = max(start_s - clip_start, 0.0), duration if end_s is None else min(end_s - clip_start, duration)
        if b > a:
            specs.append(SourceSpec(str(path)) if (a, b) == (0.0, duration) else SourceSpec(str(path), a, b))
        clip_start += duration
    return specs


def _on_its_clock(video: LabelledVideo, result: ScoreResult) -> LabelledVideo:
    """A test video file whose frames come at uneven times is scored on a regular clock (tools/video/regular.py,
    `ScoreResult.clock`): its labels, of the recording's frames, are put on that clock too."""
    if result.clock is None or not video.path.is_file():  # read frame for frame: opened again for nothing
        return video
    with open_video(video.path) as opened:
        if isinstance(opened, RegularClock):
            return video.on_clock(opened.shown, opened.inner.info.frame_count)
    return video


def _normal_footage(camera: str, paths: list, start_s: float, seconds: float | None, fps: float) -> list[SourceSpec]:
    specs = footage_between(paths, start_s, seconds, fps)
    if not specs:
        raise UsageError(f"the normal footage{f' of camera {camera}' if camera else ''} ends before {start_s:g} s "
                         "(--normal-from)")
    return specs


def _footage_words(seconds: float | None, start_s: float, per_camera: bool) -> str:
    """How much of the training clips was fitted, for the protocol line ("" for all of it)."""
    if not seconds and not start_s:
        return ""
    amount = f"their first {seconds:g} s" if not start_s else (
        f"{seconds:g} s of them from {start_s:g} s on" if seconds else f"them from {start_s:g} s on")
    return f" ({amount}{' per camera' if per_camera else ''}, played one after another)"


def run_detect(data: FrameDataset, config: ScorerConfig, *, sigma: float = 3.0, policy: CandidatePolicy | None = None,
               device: str = "cpu", progress: Progress | None = None, normal_seconds: float | None = None,
               normal_from: float = 0.0, workers: int = 1, keep_scorers: str | Path | None = None) -> dict:
    """The detection benchmark's figures. `normal_seconds` / `normal_from`: fit on that many seconds of
    the normal footage (its clips played one after another), from that second on (all of it: None, 0).
    `workers`: test videos scored this many at once, each in its own process (frames/s is then the
    pool's, not one video's). `keep_scorers`: a folder where each camera's fitted scorer and each test
    video's scores (without normal footage: each video's own scorer with its scores) are kept as they are
    made, and from which those made the same way are reused (see kept_scorers.py)."""
    policy = policy or CandidatePolicy()
    if not data.train and (normal_seconds or normal_from):
        raise UsageError(f"{data.name} has no normal footage: --normal-seconds and --normal-from do not apply "
                         "(each video is fitted on its own opening)")
    store = KeptScorers(keep_scorers, dataset=data.name, fps=data.fps, config=config,
                        device=device) if keep_scorers else None
    footage = data.normal_footage()
    unseen = sorted({video.camera for video in data.test} - set(footage)) if footage else []
    if unseen:
        raise UsageError(f"{data.name}: test videos of camera(s) {', '.join(unseen)} but no training video of them "
                         "(a scorer learns one camera's normal footage)")
    specs = {camera: _normal_footage(camera, paths, normal_from, normal_seconds, data.fps)
             for camera, paths in footage.items()}
    start_seconds = None
    if specs and workers > 1:
        cameras, results, score_seconds, start_seconds = _side_by_side(data, specs, config, device, progress, workers,
                                                                       store)
        scorers = list(cameras.values())
    elif specs:
        cameras = _fitted(specs, config, data.fps, device, progress, store)
        scorers = list(cameras.values())
        results, score_seconds = _in_turn(data, cameras, device, progress, store, specs)
    else:  # each video's own scorer
        cameras = {}
        scorers, results, score_seconds, start_seconds = _on_their_openings(data, config, device, progress, workers,
                                                                            store)
    fits, scorer = [s.fit_info for s in scorers], scorers[0]
    clocked = [_on_its_clock(video, result) for video, result in zip(data.test, results)]
    on_clock = [video.name for video, on in zip(data.test, clocked) if on is not video]
    data = replace(data, test=clocked)
    # labels from a temporal annotation take the frames decoded; frame labels must match them
    sized = {video.name: [len(video.labels), len(result.scores)] for video, result in zip(data.test, results)
             if video.segments is not None and len(video.labels) != len(result.scores)}
    data = replace(data, test=[video.sized(len(result.scores)) for video, result in zip(data.test, results)])
    labels = [v.labels for v in data.test]
    scores = [r.scores for r in results]
    unequal = [f"{video.path} ({len(result.scores)} frames decoded, {len(video.labels)} labelled)"
               for video, result in zip(data.test, results) if len(result.scores) != len(video.labels)]
    if unequal:  # a frame's label would be compared with another frame's score
        raise UsageError(f"{data.name}: the labels do not match the frames of {len(unequal)} test video(s): "
                         f"{'; '.join(unequal)}")
    kept = [kept_mask(pick_candidates(r.smoothed(sigma), r.info.fps, policy, max_fraction=BUDGET_FRACTION),
                      len(r.scores)) for r in results]
    recalled, total = event_recall(labels, kept)
    picked = [r.candidates(policy, sigma) for r in results]
    by_candidates, _ = event_recall(labels, [kept_mask(c, len(r.scores)) for c, r in zip(picked, results)])
    minutes = sum(len(r.scores) / r.info.fps for r in results) / 60.0
    frames = int(sum(len(s) for s in scores))
    # frames/s is this run's: videos whose scores were kept from an earlier run are not counted
    kept_scores = set(store.scores_reused) if store else set()
    scored_here = sum(len(r.scores) for v, r in zip(data.test, results) if v.name not in kept_scores)
    digest = hashlib.sha256()
    for video in data.test:  # what was scored against what: clip names and labels
        digest.update(video.name.encode() + video.labels.tobytes())
    left_out = [name for info in fits for name in info.get("left_out", {})]
    timed = "scoring them" if cameras else "fitting each on its opening and scoring it"
    # localisation over the videos with pixel masks (UCSD Ped1 has them for 10 of its 36 test clips)
    masked = [i for i, video in enumerate(data.test) if video.masks]
    located = _localisation([data.test[i] for i in masked], [results[i] for i in masked],
                            [kept_mask(picked[i], len(results[i].scores)) for i in masked]) if masked else {}
    return {
        "dataset": data.name, "scorer": scorer.scorer_id, "tiers": list(scorer.tiers),
        "weights": {n: scorer.config.weight(n) for n in scorer.tiers}, "device": device,
        "normal_footage": ("training clips" + (f", one scorer per camera ({len(cameras)})" if len(cameras) > 1 else "")
                           if cameras else ON_OPENINGS),
        "tiers_left_out": {name: left_out.count(name) for name in set(left_out)},
        "normal_seconds": normal_seconds, "normal_from_s": normal_from,
        "micro_auc": round(micro_auc(labels, scores), 4),
        "micro_auc_smoothed": round(micro_auc(labels, scores, sigma), 4),
        "macro_auc": round(macro_auc(labels, scores), 4),
        "macro_auc_smoothed": round(macro_auc(labels, scores, sigma), 4),
        "average_precision": round(average_precision(labels, scores), 4),
        "average_precision_smoothed": round(average_precision(labels, scores, sigma), 4),
        # each video min-max normalised over its whole length (FFP's and MNAD's evaluations): comparison only
        "micro_auc_video_min_max": round(micro_auc_min_max(labels, scores), 4),
        "smoothing_sigma": sigma,
        "event_recall_at_10pct": round(recalled / total, 4) if total else None,
        "events_recalled": recalled, "events_total": total,
        "max_kept_fraction": round(max(float(k.mean()) for k in kept), 4),
        "candidate_event_recall": round(by_candidates / total, 4) if total else None,
        "events_covered_by_candidates": by_candidates,
        "candidates": sum(len(c) for c in picked),
        "candidates_below_threshold": sum(c.below_threshold for p in picked for c in p),
        "calls_per_minute": round(sum(len(c) for c in picked) / minutes, 2),
        "candidate_policy": asdict(policy),
        "segments": [{"video": v.name, "first_frame": a, "last_frame": b,
                      "covered": bool(any(c.start_frame <= b and a <= c.end_frame for c in p))}
                     for v, p in zip(data.test, picked) for a, b in events(v.labels)],
        "fit_seconds": round(sum(f["fit_seconds"] for f in fits), 2),  # a reused scorer's: when it was fitted
        **({"kept_scorers": {"folder": str(store.folder), "reused": store.reused, "scores_reused": store.scores_reused,
                             "kept": "each camera's scorer and each test video's scores" if cameras else
                             "each video's scorer and scores"}} if store else {}),
        "fit_frames": sum(f["frames"] for f in fits),
        "selection": _selections(data, cameras, scorers),
        "frames_per_second": round(scored_here / score_seconds, 1) if scored_here else None,
        "workers": workers, "workers_start_seconds": start_seconds,
        "test_frames": frames,
        "labels_sized_to_decoded_frames": sized,  # video: [frames its container declared, frames decoded]
        "data_sha256": digest.hexdigest()[:16],
        "per_video_auc": {v.name: (round(float(_auc(v.labels, r.scores)), 4) if 0 < v.labels.sum() < len(v.labels)
                                   else None) for v, r in zip(data.test, results)},
        "micro_headroom": {v.name: {k: None if g is None else round(g, 4) for k, g in gains.items()}
                           for v, gains in zip(data.test, micro_headroom(labels, scores))},
        **located,
        **({"test_videos_on_a_regular_clock": on_clock} if on_clock else {}),
        "protocol": (("fit on the training clips only" + (", each camera's on its own" if len(cameras) > 1 else "")
                      if cameras else "no normal footage: each video fitted on its opening")
                     + _footage_words(normal_seconds, normal_from, len(cameras) > 1)
                     + "; tiers and weights fixed, or chosen by self-validation on synthetic anomalies in held-out "
                     "training footage (selection); no test label is used to choose anything; calibration from "
                     "training statistics (no per-video normalisation); micro = pooled frames, macro = mean over "
                     "videos with both classes (no padding); AP = average precision of the pooled frames, anomalous "
                     "ones the positives; "
                     f"smoothed = Gaussian per video, sigma {sigma}; event recall = per video, candidates keep at most "
                     f"{BUDGET_FRACTION:.0%} of its frames; "
                     + (f"frames/s = test frames over the wall time of {timed}, {workers} videos at once in "
                        "processes of their own (started before the clock); " if workers > 1 else "")
                     + (f"frames/s over the videos scored in this run, not the {len(kept_scores)} whose scores were "
                        "kept from an earlier one; " if kept_scores else "")
                     + (f"{len(on_clock)} test video(s) whose frames come at uneven times scored on a regular clock, "
                        "each of its frames labelled as the recording's frame it shows; " if on_clock else "")
                     + "candidate recall = an event (maximal run of anomalous "
                     "frames) overlapped by at least one candidate of the product's own picker (threshold, call "
                     "budget, gap, coverage floor; smoothed scores)")
                    + (LOCALISATION_PROTOCOL if located else "")
                    + (f", over the {len(masked)} of {len(data.test)} videos with pixel masks"
                       if located and len(masked) < len(data.test) else ""),
    }


def _fitted(footage: dict[str, list[SourceSpec]], config: ScorerConfig, fps: float, device: str,
            progress: Progress | None, kept: KeptScorers | None = None) -> dict[str, Scorer]:
    """Each camera's scorer, fitted here one after another (or kept from an earlier run), each kept as
    soon as it is fitted."""
    cameras = {}
    for done, (camera, sources) in enumerate(footage.items(), 1):
        cameras[camera] = kept.get(camera, sources) if kept else None
        if cameras[camera] is None:
            cameras[camera] = Scorer.fit(sources, config, folder_fps=fps, device=device, progress=progress)
            if kept:
                kept.put(camera, sources, cameras[camera])
        if progress and len(footage) > 1:  # each fit's own bars start again for every camera
            progress("cameras fitted", done, len(footage))
    return cameras


def _side_by_side(data: FrameDataset, footage: dict[str, list[SourceSpec]], config: ScorerConfig, device: str,
                  progress: Progress | None, workers: int,
                  kept: KeptScorers | None = None) -> tuple[dict[str, Scorer], list[ScoreResult], float, float | None]:
    """Each camera's scorer (fitted side by side where several are to be fitted; or kept from an earlier
    run), its test videos scored `workers` at once; the seconds the scoring took, and the processes' start
    (before the clock; None where everything was kept and no process was started)."""
    found = {camera: kept.get(camera, sources) if kept else None for camera, sources in footage.items()}
    kept_results, todo, places = _to_score(data, footage, kept)  # a video's key is its camera's, not its scorer's
    if not todo and all(found.values()):  # run again for other figures: nothing to fit or score
        return found, _merged(kept_results, []), 0.0, None
    with SideBySide(workers) as pool:
        missing = {camera: footage[camera] for camera, scorer in found.items() if scorer is None}
        fitted = zip(missing, pool.fit(list(missing.values()), config, folder_fps=data.fps, device=device,
                                       progress=progress), strict=True) if len(missing) > 1 else \
            _fitted(missing, config, data.fps, device, progress).items()
        for camera, scorer in fitted:  # each kept as it comes, so a stop keeps the cameras fitted before it
            found[camera] = scorer
            if kept:
                kept.put(camera, missing[camera], scorer)
        cameras: dict[str, Scorer] = found  # every camera's by now
        started = time.perf_counter()
        made = list(pool.score([(cameras[v.camera], v.path) for v in todo], folder_fps=data.fps, device=device,
                               progress=progress, keep_in=places))
        return cameras, _merged(kept_results, made), time.perf_counter() - started, round(pool.start_seconds, 2)


def _in_turn(data: FrameDataset, cameras: dict[str, Scorer], device: str, progress: Progress | None,
             kept: KeptScorers | None = None, footage: dict[str, list[SourceSpec]] | None = None,
             ) -> tuple[list[ScoreResult], float]:
    """Each camera's test videos in turn (but those whose scores were kept), the next one decoded while
    this one's last frames are read; and the seconds that took."""
    kept_results, todo, places = _to_score(data, footage or {}, kept)
    made: list[ScoreResult] = []
    started = time.perf_counter()
    for camera, videos in groupby(range(len(todo)), key=lambda i: todo[i].camera):
        numbers = list(videos)
        for number, result in zip(numbers, cameras[camera].score_each([todo[i].path for i in numbers],
                                                                      folder_fps=data.fps, device=device)):
            if places:
                result.save(places[number])
            made.append(result)
            if progress:
                progress("scoring test videos", len(data.test) - len(todo) + len(made), len(data.test))
    return _merged(kept_results, made), time.perf_counter() - started


def _to_score(data: FrameDataset, footage: dict[str, list[SourceSpec]],
              kept: KeptScorers | None) -> tuple[list[ScoreResult | None], list[LabelledVideo], list[Path] | None]:
    """Each test video's scores kept from an earlier run (None: to be scored here), the videos to score,
    and the folder each of those is to be kept in."""
    if kept is None:
        return [None] * len(data.test), list(data.test), None
    found = [kept.scores(v.name, v.path, (v.camera, footage[v.camera])) for v in data.test]
    todo = [v for v, result in zip(data.test, found) if result is None]
    return found, todo, [kept.place_for(v.name, v.path, (v.camera, footage[v.camera])) for v in todo]


def _merged(kept: list[T | None], made: list[T]) -> list[T]:
    """The kept results with the ones made here in the gaps, in order."""
    fresh = iter(made)
    return [item if item is not None else next(fresh) for item in kept]


def _on_their_openings(data: FrameDataset, config: ScorerConfig, device: str, progress: Progress | None,
                       workers: int, kept: KeptScorers | None = None,
                       ) -> tuple[list[Scorer], list[ScoreResult], float, float | None]:
    """No normal footage: each test video scored by a scorer fitted on its opening (or both kept from an
    earlier run); the scoring's seconds (with `workers` > 1, videos fitted and scored that many at once:
    the seconds of both) and the processes' start."""
    found = [kept.scored(v.name, v.path) if kept else None for v in data.test]
    missing = [v for v, pair in zip(data.test, found) if pair is None]
    folders = [kept.place_for(v.name, v.path) for v in missing] if kept else None
    made: list[tuple[Scorer, ScoreResult]] = []
    seconds, start_seconds = 0.0, None
    if workers > 1 and missing:
        with SideBySide(workers) as pool:
            started = time.perf_counter()
            made = list(pool.on_openings([v.path for v in missing], config, folder_fps=data.fps, device=device,
                                         progress=progress, keep_in=folders))
            seconds, start_seconds = time.perf_counter() - started, round(pool.start_seconds, 2)
    else:
        for number, video in enumerate(missing):
            scorer = Scorer.fit_on_opening(str(video.path), config, folder_fps=data.fps, device=device)
            started = time.perf_counter()
            made.append((scorer, scorer.score(video.path, folder_fps=data.fps, device=device)))
            seconds += time.perf_counter() - started
            if folders:  # the scores last: they vouch for the scorer beside them
                scorer.save(folders[number])
                made[-1][1].save(folders[number])
            if progress:
                progress("scoring test videos", len(data.test) - len(missing) + number + 1, len(data.test))
    pairs = _merged(found, made)
    return [s for s, _ in pairs], [r for _, r in pairs], seconds, start_seconds


LOCALISATION_PROTOCOL = (
    "; localisation against the pixel masks: the detected region of a frame is its evidence box (the scorer's "
    "one most unusual object or cell, as the explain graph's relations name it); pixel AUC = frame AUC where an "
    f"anomalous frame counts only if its box covers at least {PIXEL_CRITERION:.0%} of its anomalous pixels "
    "(Mahadevan et al., CVPR 2010), raw scores; evidence covers / touches = the share of anomalous frames whose box "
    f"covers {PIXEL_CRITERION:.0%} / any of those pixels, over all of them and over those inside the candidates")


def _localisation(videos: list[LabelledVideo], results: list[ScoreResult], candidate_frames: list[np.ndarray]) -> dict:
    """Whether the evidence points at the anomaly: each frame's evidence box against its pixel mask."""
    coverage = []
    for video, result in zip(videos, results):
        masks = video.masks()
        if len(masks) != len(video.labels):
            raise ValueError(f"{video.path}: {len(masks)} pixel masks for {len(video.labels)} labelled frames")
        coverage.append(np.nan_to_num(box_coverage(masks, result.evidence.box), nan=0.0))
    anomalous = np.concatenate([v.labels for v in videos]) > 0
    shown = anomalous & np.concatenate(candidate_frames)
    pooled = np.concatenate(coverage)
    covers, touches = pooled >= PIXEL_CRITERION, pooled > 0
    # what the relations say of an object: the objects tier's notes (beyond its normal objects' 99th percentile) on the
    # frames the scorer flagged
    said = np.concatenate([[read_note(note) is not None and score >= r.threshold
                            for note, score in zip(r.evidence.note, r.scores)] for r in results]).astype(bool)

    def share(hit: np.ndarray, frames: np.ndarray) -> float | None:
        return round(float(hit[frames].mean()), 4) if frames.any() else None

    return {
        "pixel_masked_videos": len(videos),
        "pixel_auc": round(pixel_auc([v.labels for v in videos], [r.scores for r in results], coverage), 4),
        "evidence_covers_anomaly": share(covers, anomalous),
        "evidence_touches_anomaly": share(touches, anomalous),
        "evidence_covers_anomaly_in_candidates": share(covers, shown),
        "evidence_touches_anomaly_in_candidates": share(touches, shown),
        "evidence_touches_anomaly_per_video": {v.name: share(c > 0, v.labels > 0)
                                               for v, c in zip(videos, coverage)},
        "object_said_in_candidates": share(said, shown),
        "object_said_touches_anomaly": share(touches, shown & said),
        "object_said_of_normal_frames": share(said, ~anomalous),
    }


def _selections(data: FrameDataset, cameras: dict[str, Scorer], scorers: list[Scorer]) -> dict | None:
    """Self-validation's choice: the one scorer's, each camera's, or without normal footage each video's own."""
    if len(cameras) > 1:
        return {camera: _selection_summary(s.fit_info.get("selection")) for camera, s in cameras.items()}
    if not cameras:
        return {v.name: _selection_summary(s.fit_info.get("selection")) for v, s in zip(data.test, scorers)}
    return _selection_summary(scorers[0].fit_info.get("selection"))


def _selection_summary(selection: dict | None) -> dict | None:
    if not selection:
        return None
    return {"chosen": selection["chosen"], "labels": selection["labels"], "held_out_frames": selection["held_out_frames"],
            "tried": [{"tiers": t["tiers"], "weights": t["weights"], "auc": t["auc"]} for t in selection["tried"]]}


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(labels, scores)


def _signed(gain: float | None) -> str:
    return "–" if gain is None else f"+{gain:.4f}"


def markdown(result: dict) -> str:
    keys = ["micro_auc", "micro_auc_smoothed", "macro_auc", "macro_auc_smoothed", "average_precision", "smoothing_sigma",
            "event_recall_at_10pct", "candidate_event_recall", "calls_per_minute", "fit_seconds", "frames_per_second"]
    lines = [f"# Detection on {result['dataset']} ({result['scorer']}, {result['device']})", "",
             "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys),
             "| " + " | ".join(str(result[k]) for k in keys) + " |", "",
             f"Events recalled: {result['events_recalled']}/{result['events_total']} at the 10 % budget, "
             f"{result['events_covered_by_candidates']}/{result['events_total']} by the product's "
             f"{result['candidates']} candidates ({result['candidates_below_threshold']} below threshold). "
             f"Normal footage: {result['normal_footage']}. Protocol: {result['protocol']}.",
             "", f"Micro AUC with each video's scores min-max normalised over the whole video, as FFP's and MNAD's "
             f"evaluations do (for comparison with their figures; a live camera cannot): "
             f"{result['micro_auc_video_min_max']}.",
             "", "Per-video AUC: " + ", ".join(f"{k}: {v}" for k, v in result["per_video_auc"].items()), "",
             "Micro AUC headroom (the gain if one video's anomalous / normal frames alone were scored perfectly): "
             + ", ".join(f"{k}: {_signed(g['anomalous'])} / {_signed(g['normal'])}"
                         for k, g in result["micro_headroom"].items()), "",
             "Segments (frames, 0-based) covered by a candidate: " + ", ".join(
                 f"{s['video']} {s['first_frame']}–{s['last_frame']} {'✓' if s['covered'] else '✗'}"
                 for s in result["segments"])]
    if result["normal_footage"] == ON_OPENINGS and any(result["selection"].values()):
        lines += ["", "Chosen by self-validation on each video's opening (from 15 s of it): " + ", ".join(
            f"{name}: {describe(chosen['chosen']) if chosen else 'too short, every tier at equal weights'}"
            for name, chosen in result["selection"].items())]
    if "kept_scorers" in result:
        kept = result["kept_scorers"]
        lines += ["", f"Kept in {kept['folder']}: {kept['kept']}. Made in an earlier run and reused: the scorers of "
                  + (", ".join(kept["reused"]) or "none") + f"; the scores of {len(kept['scores_reused'])} of "
                  f"{len(result['per_video_auc'])} test videos."]
    if "pixel_auc" in result:
        lines += ["", f"Localisation (pixel masks): pixel AUC {result['pixel_auc']}; the evidence box covers "
                  f"{PIXEL_CRITERION:.0%} of the anomaly in {result['evidence_covers_anomaly']:.1%} of anomalous frames "
                  f"and touches it in {result['evidence_touches_anomaly']:.1%} (inside the candidates: "
                  f"{_share(result['evidence_covers_anomaly_in_candidates'])} and "
                  f"{_share(result['evidence_touches_anomaly_in_candidates'])}). Touches per video: "
                  + ", ".join(f"{k}: {_share(v)}" for k, v in result["evidence_touches_anomaly_per_video"].items())]
    if "object_said_in_candidates" in result:
        lines += ["", "Said of an object (the objects tier's evidence note, beyond its normal objects' 99th percentile, "
                  "on a frame the scorer flagged: the relations the VLM is given): "
                  f"{_share(result['object_said_in_candidates'])} of the anomalous frames inside the candidates, "
                  f"touching the anomaly in {_share(result['object_said_touches_anomaly'])} of those; "
                  f"{_share(result['object_said_of_normal_frames'])} of the normal frames."]
    return "\n".join(lines)


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"
