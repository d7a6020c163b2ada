"""Choosing a site's tier set and fusion weights from its normal footage alone.

Part of the normal footage is held out (every 4th clip, or the last quarter of each when there
are fewer than four). Every candidate tier is fitted on the rest; the held-out frames are scored
as they are (label 0) and with synthetic anomalies injected into short windows of them (label 1):
objects cut from other frames pasted where they stand still, drift or loom too large, motion sped
up fourfold, and time reversed; objects crossing fast; and rectangles of other moments and places
pasted whole — the kinds of synthetic anomaly AED-MAE trains with. Each tier
set and weighting is ranked by the frame AUC of these labels (the mean over kinds), and the best is kept (ties go to
fewer tiers). Windows are shorter where the held-out clips are (little footage). Only these synthetic
labels are used; no test label of any dataset is seen.
"""

from __future__ import annotations

import itertools
import logging
from typing import TYPE_CHECKING

import cv2
import numpy as np
from scipy.ndimage import median_filter
from sklearn.metrics import roc_auc_score

from vadagent.tools.scorer.calibration import surprisal, tail_calibration
from vadagent.tools.scorer.frames import chunks_of_frames
from vadagent.tools.scorer.tiers import TierUnfit
from vadagent.tools.video import open_video

if TYPE_CHECKING:
    from vadagent.tools.scorer.scorer import Extracted, Progress, ScorerConfig, SourceSpec
    from vadagent.tools.scorer.tiers import Geometry, Tier

log = logging.getLogger(__name__)

MIN_FRAMES = 150  # below this, nothing can be spared for self-validation
LEAD, WINDOW = 8, 24  # clean frames before each synthetic anomaly, and its length
MIN_WINDOW = 6
SPEED_UP = 4
WINDOWS_PER_KIND = 12  # per kind; with 6 a set's AUC moved by up to 0.02 with the windows drawn (Ped2, measured)
KINDS = ("still_object", "drifting_object", "fast_object", "large_object", "speed_up", "reversed", "patch")
WEIGHTS = (0.5, 1.0, 2.0)
TIE = 0.002  # AUC differences below this are noise: the simpler set wins


def hold_out(sources: list[SourceSpec], folder_fps: float) -> tuple[list[SourceSpec], list[SourceSpec]]:
    """(fit, held-out) segments of the normal footage; nothing held out when it is too short."""
    from vadagent.tools.scorer.scorer import SourceSpec

    spans, total = [], 0
    for spec in sources:
        with open_video(spec.path, folder_fps=folder_fps) as video:
            end = spec.end_s if spec.end_s is not None else video.info.duration_s
            spans.append((spec.start_s, min(end, video.info.duration_s)))
            total += int((spans[-1][1] - spec.start_s) * video.info.fps)
    if total < MIN_FRAMES:
        return sources, []
    if len(sources) >= 4:
        return [s for i, s in enumerate(sources) if i % 4 != 3], [s for i, s in enumerate(sources) if i % 4 == 3]
    fit, held = [], []
    for spec, (start, end) in zip(sources, spans):
        cut = start + 0.75 * (end - start)
        fit.append(SourceSpec(spec.path, start, cut))
        held.append(SourceSpec(spec.path, cut, end))
    return fit, held


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


def _pasted_region(body: np.ndarray, frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`body` with a rectangle (a sixth to a third of the frame high) cut from a random frame and place
    pasted at another place for the whole window: no segmentation is involved, so no tier's own
    background model decides what is pasted."""
    height, width = frames.shape[1:]
    h = int(rng.uniform(height / 6, height / 3))
    w = min(max(int(h * rng.uniform(0.5, 2.0)), 4), width)
    source = frames[rng.integers(len(frames))]
    y0, x0 = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
    y1, x1 = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
    patch = source[y0 : y0 + h, x0 : x0 + w]
    return np.stack([_paste(frame, patch, np.ones_like(patch), x1, y1) for frame in body])


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


def synthetic_windows(frames: list[np.ndarray], background: np.ndarray | None,
                      seed: int = 0) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(kind, frames, labels) clips made from held-out normal frames."""
    rng = np.random.default_rng(seed)
    pool = [f for f in frames if f is not None and len(f) >= LEAD + MIN_WINDOW]
    if not pool:
        return []
    everything = np.concatenate(pool)
    height, width = everything.shape[1:]
    made = []
    for kind in KINDS:
        for _ in range(WINDOWS_PER_KIND):
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
            if kind == "speed_up":
                body = body[::SPEED_UP]
            elif kind == "reversed":  # forwards, then back the way it came from the frame it reached
                # (splicing a reversed stretch after the lead made a jump, a flow artefact any tier saw)
                segment = clip[start : start + need]
                lead, body = segment[length:], segment[LEAD - 1 : LEAD - 1 + length][::-1]
            elif kind == "patch":  # a piece of another moment and place, whatever it shows (AED-MAE's kind)
                body = _pasted_region(body, everything, rng)
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
            labels = np.r_[np.zeros(LEAD), np.ones(len(body))].astype(np.int8)
            made.append((kind, np.concatenate([lead, body]), labels))
    return made


# -- selection ----------------------------------------------------------------------------------
def _tier_scores(tier: Tier, parts: list, calibration: dict) -> np.ndarray:
    raw = np.concatenate([tier.score(p).scores for p in parts]) if parts else np.zeros(0)
    return surprisal(raw, calibration)


def select(tiers: dict[str, Tier], extracted: Extracted, n_fit: int, config: ScorerConfig, geometry: Geometry, *,
           device: str = "cpu", progress: Progress | None = None) -> dict | None:
    """Fit every candidate tier on the fit segments, rank tier sets on held-out synthetic anomalies.
    Returns the selection log (what was tried, what was chosen) or None when nothing could be judged."""
    held = range(n_fit, len(extracted.lengths))
    background = next((t.background for t in tiers.values() if getattr(t, "background", None) is not None), None)
    windows = synthetic_windows([extracted.frames[i] for i in held], background)
    if not windows:
        log.info("held-out footage too short for synthetic anomalies: selection skipped")
        return None
    clean: dict[str, list[np.ndarray]] = {}
    synthetic: dict[str, list[np.ndarray]] = {}
    for number, (name, tier) in enumerate(tiers.items(), 1):
        try:
            raw = tier.fit([extracted.parts[name][i] for i in range(n_fit)], budget_s=config.budget_s, device=device)
        except TierUnfit as why:
            log.info("self-validation: %s cannot be fitted on the fit part (%s)", name, why)
            continue
        calibration = tail_calibration(np.concatenate(raw))
        clean[name] = [_tier_scores(tier, extracted.parts[name][i], calibration) for i in held]
        synthetic[name] = []
        for _kind, frames, _labels in windows:
            reader = tier.reader()
            parts = [reader.feed(chunk) for chunk in chunks_of_frames(frames, flow=config.flow if tier.needs_flow else None)]
            synthetic[name].append(_tier_scores(tier, parts, calibration))
        if progress:
            progress("self-validation", number, len(tiers))
    if not clean:
        return None
    labels = [np.zeros(len(c)) for c in clean[next(iter(clean))]] + [w[2] for w in windows]
    kinds = [None] * len(held) + [w[0] for w in windows]
    tried = []
    for size in range(1, len(clean) + 1):
        for subset in itertools.combinations(clean, size):
            for extra in itertools.product(WEIGHTS, repeat=size - 1):
                weights = dict(zip(subset, (1.0, *extra)))
                fused = [median_filter(sum(weights[n] * (clean[n] + synthetic[n])[i] for n in subset),
                                       config.median_window, mode="nearest") for i in range(len(labels))]
                tried.append({"tiers": list(subset), "weights": weights, **_aucs(labels, fused, kinds)})
    best = max(tried, key=lambda t: t["auc"])
    simplest = min((t for t in tried if t["auc"] >= best["auc"] - TIE),
                   key=lambda t: (len(t["tiers"]), sum(abs(w - 1.0) for w in t["weights"].values()), -t["auc"]))
    log.info("self-validation chose %s (AUC %.3f on synthetic anomalies)", "+".join(simplest["tiers"]),
             simplest["auc"])
    return {"chosen": simplest, "tried": tried, "held_out_frames": int(sum(len(c) for c in labels[: len(held)])),
            "synthetic_windows": {k: sum(w[0] == k for w in windows) for k in KINDS},
            "labels": "synthetic anomalies injected into held-out normal footage; no test labels"}


def _aucs(labels: list[np.ndarray], scores: list[np.ndarray], kinds: list[str | None]) -> dict:
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
