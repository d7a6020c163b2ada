"""Choosing a site's tier set and fusion weights from its normal footage alone.

The normal footage is cut into four folds (whole clips when there are four or more, else the
quarters of each clip) and every fold is held out in turn: every candidate tier is fitted on the
other three, and the held-out frames are scored as they are (label 0) and with synthetic anomalies
injected into short windows of them (label 1): objects cut from other frames pasted where they
stand still, drift or loom too large, motion sped up fourfold, and time reversed; objects crossing
fast; and rectangles of other moments and places pasted whole — the kinds of synthetic anomaly
AED-MAE trains with. Rotating the held-out fold makes every normal frame a negative once and draws
windows from all of the footage: with one held-out fold the choice changed between disjoint 15 s
and 60 s spans of Ped2's normal footage (2 of 4 agreeing; 4 of 4 in turn, evals/bench_selection.py).
A pasted object's frames are anomalous while it is in view (a drifting one may leave the picture).
Each tier set and weighting is ranked by the frame AUC
of these labels (the mean over kinds), and the best is kept (ties go to fewer tiers). Windows are
shorter where the held-out clips are (little footage). Only these synthetic labels are used; no
test label of any dataset is seen.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
from scipy.ndimage import median_filter

from vadagent.tools.scorer.calibration import surprisal, tail_calibration
from vadagent.tools.scorer.footage import SourceSpec
from vadagent.tools.scorer.frames import chunks_of_frames
from vadagent.tools.scorer.prefetch import ahead
from vadagent.tools.scorer.tiers import Evidence, TierUnfit
from vadagent.tools.scorer.tiers.base import shared_area

if TYPE_CHECKING:
    from vadagent.tools.scorer.footage import Extracted
    from vadagent.tools.scorer.scorer import Progress, ScorerConfig
    from vadagent.tools.scorer.tiers import Tier
    from vadagent.types import VideoInfo

log = logging.getLogger(__name__)

MIN_FRAMES = 150  # below this, nothing can be spared for self-validation
FOLDS = 4
WINDOW_SOURCES_PER_FOLD = 4  # segments per fold whose frames are kept for synthetic windows (see window_sources)
ROUNDS = FOLDS  # folds held out in turn; evals/bench_selection.py compares 1, the scheme before
DRAW = 0  # which draw of synthetic windows; evals/bench_setting.py varies it to see a draw's noise
LEAD, WINDOW = 8, 24  # clean frames before each synthetic anomaly, and its length
MIN_WINDOW = 6
SPEED_UP = 4
WINDOWS_PER_KIND = 24  # per kind, shared by the rounds (with 6, a set's AUC moved by up to 0.02 with the draw)
KINDS = ("still_object", "drifting_object", "fast_object", "large_object", "speed_up", "reversed", "patch")
# each kind in a user's words: `vadagent fit` names those the chosen scorer separates least well
KIND_MEANING = {
    "still_object": "something standing where it does not belong",
    "drifting_object": "something drifting slowly",
    "fast_object": "something crossing fast",
    "large_object": "something too large for its place",
    "speed_up": "movement faster than usual",
    "reversed": "movement turned back on itself",
    "patch": "a piece of another moment and place",
}
WEAK = 0.75  # a kind the chosen set separates less well than this is named at fit time
WEIGHTS = (0.5, 1.0, 2.0)
TIE = 0.002  # AUC differences below this are noise: the simpler set wins
# Mahadevan et al. (CVPR 2010): a frame's anomaly counts as found where the detected region covers this much
# of it; evals/detection.py scores pixel masks by it, self-validation the regions it pasted
PIXEL_CRITERION = 0.4
# From this much footage on, disjoint spans of Ped2's footage kept the same tiers (4/4 spans of 30 s and of 60 s,
# 3/4 of 15 s: evals/results/bench_selection.md); below it, a tier left out may be the chance of the seconds given
STEADY_S = 30.0


def folds_of(sources: list[SourceSpec], infos: list[VideoInfo]) -> tuple[list[SourceSpec], list[int]]:
    """The normal footage (each source with its probed video) as segments, each with its fold (0 to
    FOLDS - 1); no folds (an empty list) when it is too short to spare any for self-validation."""
    spans, total = [], 0
    for spec, info in zip(sources, infos, strict=True):
        spans.append((spec.start_s, min(spec.end_in(info.duration_s), info.duration_s)))
        total += int((spans[-1][1] - spec.start_s) * info.fps)
    if total < MIN_FRAMES:
        return sources, []
    if len(sources) >= FOLDS:
        return list(sources), [i % FOLDS for i in range(len(sources))]
    segments, folds = [], []
    for spec, (start, end) in zip(sources, spans):
        cuts = np.linspace(start, end, FOLDS + 1)
        for fold in range(FOLDS):
            segments.append(SourceSpec(spec.path, float(cuts[fold]), float(cuts[fold + 1])))
            folds.append(fold)
    return segments, folds


def window_sources(folds: list[int]) -> set[int]:
    """The segments whose opening frames are kept for synthetic windows: up to
    WINDOW_SOURCES_PER_FOLD per fold, spread over it. Every segment's features are held out and
    scored clean; only the windows need frames, so a site with hundreds of normal clips keeps the
    same number of frames in memory as one with sixteen."""
    kept: set[int] = set()
    for fold in set(folds):
        members = [i for i, f in enumerate(folds) if f == fold]
        spread = np.linspace(0, len(members) - 1, min(WINDOW_SOURCES_PER_FOLD, len(members)))
        kept |= {members[int(round(p))] for p in spread}
    return kept


# -- synthetic anomalies ----------------------------------------------------------------------
def _object_patch(frames: np.ndarray, background: np.ndarray | None,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(pixels, mask) of a foreground object cut from a random frame: its largest blob when a
    background model exists (only the object's own pixels are pasted, so no rectangle edge gives
    it away), else an ellipse about a fifth of the frame high."""
    height, width = frames.shape[1:]
    frame = frames[rng.integers(len(frames))]
    if background is not None:
        if background.shape != frame.shape:  # a tier may model the background at a smaller size
            background = cv2.resize(background, (width, height), interpolation=cv2.INTER_LINEAR)
        mask = (np.abs(frame.astype(np.float32) - background) > 25).astype(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
        if count > 1:
            label = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
            x, y, w, h, area = stats[label]
            if area > 0.001 * width * height:
                return frame[y : y + h, x : x + w].copy(), (labels[y : y + h, x : x + w] == label).astype(np.uint8)
    h = max(height // 5, 8)
    w = max(h // 2, 4)
    y, x = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
    ellipse = cv2.ellipse(np.zeros((h, w), np.uint8), (w // 2, h // 2), (w // 2, h // 2), 0, 0, 360, 1, -1)
    return frame[y : y + h, x : x + w].copy(), ellipse


def _pasted_region(body: np.ndarray, frames: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    """`body` with a rectangle (a sixth to a third of the frame high) cut from a random frame and place
    pasted at another place for the whole window, and where it went (x0, y0, x1, y1): no segmentation
    is involved, so no tier's own background model decides what is pasted."""
    height, width = frames.shape[1:]
    h = int(rng.uniform(height / 6, height / 3))
    w = min(max(int(h * rng.uniform(0.5, 2.0)), 4), width)
    source = frames[rng.integers(len(frames))]
    y0, x0 = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
    y1, x1 = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
    patch = source[y0 : y0 + h, x0 : x0 + w]
    return np.stack([_paste(frame, patch, np.ones_like(patch), x1, y1) for frame in body]), [x1, y1, x1 + w, y1 + h]


def _paste(frame: np.ndarray, patch: np.ndarray, mask: np.ndarray, x: float, y: float) -> np.ndarray:
    out = frame.copy()
    h, w = patch.shape
    x0, y0 = int(round(x)), int(round(y))
    fx0, fy0 = max(x0, 0), max(y0, 0)
    fx1, fy1 = min(x0 + w, frame.shape[1]), min(y0 + h, frame.shape[0])
    if fx1 > fx0 and fy1 > fy0:
        inside = mask[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0] > 0
        region = out[fy0:fy1, fx0:fx1]
        region[inside] = patch[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0][inside]
    return out


def _landed(mask: np.ndarray, x: float, y: float, width: int, height: int) -> list[int]:
    """The box (x0, y0, x1, y1) of a mask's pixels pasted with its corner at (x, y), within the frame."""
    ys, xs = np.nonzero(mask)
    xs, ys = xs + int(round(x)), ys + int(round(y))
    inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
    if not inside.any():
        return [0, 0, 0, 0]
    xs, ys = xs[inside], ys[inside]
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


@dataclass(frozen=True)
class Window:
    """A synthetic anomaly made from held-out normal frames: LEAD clean frames, then the anomaly."""

    kind: str
    frames: np.ndarray
    labels: np.ndarray  # 0 for the lead, 1 after it while the anomaly is in view
    regions: np.ndarray  # (frames, 4) x0, y0, x1, y1 of what was pasted; zeros where nothing was (whole-frame kinds)


def synthetic_windows(frames: list[np.ndarray], background: np.ndarray | None, seed: int = 0,
                      per_kind: int = WINDOWS_PER_KIND) -> list[Window]:
    """Synthetic anomalies of every kind made from held-out normal frames."""
    rng = np.random.default_rng(seed)
    pool = [f for f in frames if f is not None and len(f) >= LEAD + MIN_WINDOW]
    if not pool:
        return []
    everything = np.concatenate(pool)
    height, width = everything.shape[1:]
    made = []
    for kind in KINDS:
        for _ in range(per_kind):
            clip = pool[rng.integers(len(pool))]
            # shorter windows where held-out clips are short (30 s of footage holds out a few seconds
            # per clip: a sped-up window, which spans SPEED_UP times its length, went missing)
            span = SPEED_UP if kind == "speed_up" else 1
            length = min(WINDOW, (len(clip) - LEAD) // span)
            if length < MIN_WINDOW:
                continue
            need = LEAD + length * span
            start = int(rng.integers(0, len(clip) - need + 1))
            lead = clip[start : start + LEAD]
            body = clip[start + LEAD : start + need]
            regions = np.zeros((LEAD + length, 4), np.int32)
            if kind == "speed_up":
                body = body[::SPEED_UP]
            elif kind == "reversed":  # forwards, then back the way it came from the frame it reached
                # (splicing a reversed stretch after the lead made a jump, a flow artefact any tier saw)
                segment = clip[start : start + need]
                lead, body = segment[length:], segment[LEAD - 1 : LEAD - 1 + length][::-1]
            elif kind == "patch":  # a piece of another moment and place, whatever it shows (AED-MAE's kind)
                body, box = _pasted_region(body, everything, rng)
                regions[LEAD:] = box
            else:
                patch, mask = _object_patch(everything, background, rng)
                scale = {"still_object": 1.5, "drifting_object": 1.0, "fast_object": 1.0, "large_object": 2.5}[kind]
                size = (max(int(patch.shape[1] * scale), 2), max(int(patch.shape[0] * scale), 2))
                patch = cv2.resize(patch, size, interpolation=cv2.INTER_LINEAR)
                mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
                x, y = rng.uniform(0, max(width - size[0], 1)), rng.uniform(0, max(height - size[1], 1))
                step = {"drifting_object": rng.normal(0, 0.01 * width, 2),
                        "fast_object": rng.choice([-1, 1]) * np.array([0.04 * width, 0.0])}.get(kind, np.zeros(2))
                if kind == "fast_object":  # a bike-like crossing: starts on the side it leaves from
                    x = 0.0 if step[0] > 0 else width - size[0]
                body = np.stack([_paste(f, patch, mask, x + i * step[0], y + i * step[1]) for i, f in enumerate(body)])
                regions[LEAD:] = [_landed(mask, x + i * step[0], y + i * step[1], width, height) for i in range(len(body))]
            labels = np.r_[np.zeros(LEAD), np.ones(len(body))].astype(np.int8)
            if kind.endswith("_object"):  # a drifting object may leave the picture: nothing unusual is in view then
                labels[LEAD:] = regions[LEAD:, 2] > regions[LEAD:, 0]
            made.append(Window(kind, np.concatenate([lead, body]), labels, regions))
    return made


# -- selection ----------------------------------------------------------------------------------
def _scored(tier: Tier, parts: list, calibration: dict, device: str) -> np.ndarray:
    raw = np.concatenate([tier.score(p, device).scores for p in parts]) if parts else np.zeros(0)
    return surprisal(raw, calibration)


def select(tiers: dict[str, Tier], extracted: Extracted, folds: list[int], config: ScorerConfig,
           *, device: str = "cpu", progress: Progress | None = None) -> dict | None:
    """Rank tier sets on synthetic anomalies in each fold of the footage, held out in turn from the
    tiers' fit. Returns the selection log (what was tried, what was chosen) or None when nothing
    could be judged."""
    background = next((t.background for t in tiers.values() if getattr(t, "background", None) is not None), None)
    flow = config.flow_for(tiers)
    # tier → scores in the order of `labels`: each round's clean held-out segments, then its windows
    scored: dict[str, list[np.ndarray]] = {name: [] for name in tiers}
    labels, kinds, unfit = [], [], set()
    found: list[tuple[Window, dict[str, list[Evidence]]]] = []  # each window's evidence, tier by tier
    rows: list[int] = []  # each window's place in `labels` and `scored`
    rounds = sorted(set(folds))[-ROUNDS:]
    for number, fold in enumerate(rounds, 1):
        held = [i for i, f in enumerate(folds) if f == fold]
        fit = [i for i, f in enumerate(folds) if f != fold]
        windows = synthetic_windows([extracted.frames[i] for i in held], background, seed=fold + 1000 * DRAW,
                                    per_kind=-(-WINDOWS_PER_KIND // len(rounds)))
        calibrations = {}
        for name, tier in tiers.items():
            if name in unfit:
                continue
            try:
                # a learned tier trains its budget's share per round: selection costs one budget in all
                raw = tier.fit([extracted.parts[name][i] for i in fit], budget_s=config.budget_s / len(rounds),
                               device=device)
            except TierUnfit as why:
                log.info("self-validation: %s cannot be fitted without fold %d (%s)", name, fold, why)
                unfit.add(name)
                continue
            calibrations[name] = tail_calibration(np.concatenate(raw))
            scored[name] += [_scored(tier, extracted.parts[name][i], calibrations[name], device) for i in held]
        # one frame pass per window, for every tier; the next window's flow is computed in a worker
        # thread (OpenCV releases the GIL) while the tiers read this one
        first = len(labels) + len(held)  # where this round's windows start in `labels` and `scored`
        for window, chunked in zip(windows, ahead(list(chunks_of_frames(w.frames, flow=flow)) for w in windows)):
            evidence = {}
            for name, calibration in calibrations.items():
                reader = tiers[name].reader()
                results = [tiers[name].score(reader.feed(chunk), device) for chunk in chunked]
                scored[name].append(surprisal(np.concatenate([r.scores for r in results]), calibration))
                evidence[name] = [r.evidence for r in results if r.evidence is not None]
            found.append((window, evidence))
        labels += [np.zeros(extracted.lengths[i]) for i in held] + [w.labels for w in windows]
        kinds += [None] * len(held) + [w.kind for w in windows]
        rows += range(first, first + len(windows))
        if progress:
            progress("self-validation", number, len(rounds))
    names = [name for name in tiers if name not in unfit]
    if not names or not any(k is not None for k in kinds):
        log.info("held-out footage too short for synthetic anomalies: selection skipped")
        return None
    tried = []
    for size in range(1, len(names) + 1):
        for subset in itertools.combinations(names, size):
            for extra in itertools.product(WEIGHTS, repeat=size - 1):
                weights = dict(zip(subset, (1.0, *extra)))
                fused = [median_filter(sum(weights[n] * scored[n][i] for n in subset), config.median_window,
                                       mode="nearest") for i in range(len(labels))]
                tried.append({"tiers": list(subset), "weights": weights, **_aucs(labels, fused, kinds)})
    simplest = simplest_best(tried)
    log.info("self-validation chose %s (AUC %.3f on synthetic anomalies)", describe(simplest), simplest["auc"])
    simplest["evidence"] = _localisation(simplest, found, [{n: scored[n][i] for n in simplest["tiers"]} for i in rows])
    return {"chosen": simplest, "tried": tried, "folds": len(set(folds)), "held_out_in_turn": len(rounds),
            "held_out_frames": int(sum(len(y) for y, k in zip(labels, kinds) if k is None)),
            "synthetic_windows": {k: kinds.count(k) for k in KINDS},
            "labels": "synthetic anomalies injected into held-out normal footage; no test labels"}


def simplest_best(tried: list[dict]) -> dict:
    """The ranking's choice among tried entries: of those within TIE of the best AUC, the fewest tiers,
    then the weights nearest equal."""
    best = max(t["auc"] for t in tried)
    return min((t for t in tried if t["auc"] >= best - TIE),
               key=lambda t: (len(t["tiers"]), sum(abs(w - 1.0) for w in t["weights"].values()), -t["auc"]))


def _localisation(entry: dict, found: list[tuple[Window, dict[str, list[Evidence]]]],
                  per_tier: list[dict[str, np.ndarray]]) -> dict:
    """Whether the chosen set's evidence box (what `explain` names) lands on what was pasted: over the
    anomalous frames of the windows with a region, the share whose box touches it, and whose box covers
    at least PIXEL_CRITERION of it (the pixel-level criterion of Mahadevan et al., CVPR 2010, on its box);
    and, where it touches, how much of the box the pasted thing fills on average. The first two reward any
    larger box; the third is what a larger box gives up (release 28's trial of a regrown box)."""
    touched, covered, filled, by_kind = [], [], [], {}
    for (window, evidence), scores in zip(found, per_tier):
        frames = np.flatnonzero((window.labels > 0) & (window.regions[:, 2] > window.regions[:, 0]))
        if not len(frames):
            continue
        boxes = Evidence.strongest(scores, evidence, entry["weights"], len(window.labels)).box[frames]
        region = window.regions[frames]
        shared = shared_area(boxes, region)
        share = shared / ((region[:, 2] - region[:, 0]) * (region[:, 3] - region[:, 1]))
        on = share > 0  # a box that touches has an area
        touched += on.tolist()
        filled += (shared[on] / ((boxes[on, 2] - boxes[on, 0]) * (boxes[on, 3] - boxes[on, 1]))).tolist()
        covered += (share >= PIXEL_CRITERION).tolist()
        by_kind.setdefault(window.kind, []).extend(on.tolist())
    if not touched:
        return {}
    return {"touches": round(float(np.mean(touched)), 4), "covers": round(float(np.mean(covered)), 4),
            "fills": round(float(np.mean(filled)), 4) if filled else 0.0, "frames": len(touched),
            "touches_per_kind": {k: round(float(np.mean(v)), 4) for k, v in by_kind.items()}}


def left_out_unsteadily(log: dict | None, offered: list[str], footage_s: float) -> list[str]:
    """The offered tiers self-validation left out on footage shorter than STEADY_S (none on more)."""
    if not log or footage_s >= STEADY_S:
        return []
    return [name for name in offered if name not in log["chosen"]["tiers"]]


def unjudged(log: dict | None) -> list[str]:
    """The synthetic kinds the held-out footage was too short to make a window of (the ranking could not
    see them: a sped-up window spans SPEED_UP times its length, so 15 s at 10 frames/s had none)."""
    return [kind for kind, count in (log or {}).get("synthetic_windows", {}).items() if count == 0]


def describe(entry: dict) -> str:
    """A tried or chosen entry of the selection log in short: "motion+objects ×2"."""
    weights = entry["weights"]
    return "+".join(f"{n} ×{weights[n]:g}" if weights[n] != 1.0 else n for n in entry["tiers"])


def weakest(entry: dict) -> list[tuple[str, float]]:
    """The synthetic kinds a tried or chosen entry separated least well (AUC below WEAK), worst first:
    anomalies like them may go unnoticed at this site, which is worth telling its user."""
    return sorted(((kind, auc) for kind, auc in entry.get("per_kind", {}).items() if auc < WEAK), key=lambda k: k[1])


def _aucs(labels: list[np.ndarray], scores: list[np.ndarray], kinds: list[str | None]) -> dict:
    from sklearn.metrics import roc_auc_score  # here, not at the top: scikit-learn takes a second to import

    y, s = np.concatenate(labels), np.concatenate(scores)
    per_kind = {}
    clean = np.concatenate([s for s, k in zip(scores, kinds) if k is None] or [np.zeros(0)])
    for kind in KINDS:
        inside = [(ly, ls) for ly, ls, k in zip(labels, scores, kinds) if k == kind]
        if inside and len(clean):
            ky = np.concatenate([np.zeros(len(clean))] + [ly for ly, _ in inside])
            ks = np.concatenate([clean] + [ls for _, ls in inside])
            per_kind[kind] = round(float(roc_auc_score(ky, ks)), 4)
    # Ranked by the mean over kinds, so no kind counts more for having more frames.
    return {"auc": round(float(np.mean(list(per_kind.values()))), 4), "pooled_auc": round(float(roc_auc_score(y, s)), 4),
            "per_kind": per_kind}
