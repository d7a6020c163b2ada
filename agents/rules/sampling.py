"""Pick normal frames that spread over what the site shows, and split off held-out clips.

Each frame is summarised by the scorer's own motion features (frame-difference and optical-flow
speed per cell: where things move and how fast) plus a tiny thumbnail (what is where); greedy
farthest-point sampling then picks frames unlike those already picked, so a quiet morning and a
busy noon are both described instead of fifty copies of the busiest minute.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vadagent.errors import UsageError
from vadagent.tools.scorer.features import FeatureConfig, MotionFeatureExtractor, working_size
from vadagent.tools.scorer.footage import SourceSpec
from vadagent.tools.video import open_video


@dataclass(frozen=True)
class SampledFrame:
    source: str
    frame: int
    time_s: float


def _open(path: str, folder_fps: float):
    return open_video(path, folder_fps=folder_fps)


def frame_signatures(spec: SourceSpec, *, folder_fps: float = 25.0, stride: int = 5) -> tuple[list[SampledFrame], np.ndarray]:
    """Every `stride`-th frame of a source with its signature vector."""
    frames, vectors = [], []
    with _open(spec.path, folder_fps) as video:
        width, height = working_size(video.info.width, video.info.height, 240)
        extractor = MotionFeatureExtractor(FeatureConfig(width, height, 20, 24))
        fps = video.info.fps
        for batch in video.scan(gray=True, chunk=64, start_s=spec.start_s, end_s=spec.end_s):
            feats = extractor.feed(batch.indices, batch.frames)
            if feats is None:
                continue
            thumbs = {int(i): f for i, f in zip(batch.indices, batch.frames)}
            for k, index in enumerate(feats.indices.tolist()):
                if index % stride or index not in thumbs:
                    continue
                thumb = cv2.resize(thumbs[index], (16, 12), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
                motion = np.concatenate([feats.diff[k].ravel() / 20.0, feats.speed[k].ravel()])
                vectors.append(np.concatenate([thumb.ravel() - thumb.mean(), motion]))
                frames.append(SampledFrame(spec.path, index, index / fps))
    return frames, (np.stack(vectors) if vectors else np.zeros((0, 1), np.float32))


def farthest_point(vectors: np.ndarray, count: int) -> list[int]:
    """Greedy k-center: start from the frame nearest the mean, then repeatedly the farthest one."""
    if len(vectors) <= count:
        return list(range(len(vectors)))
    scaled = (vectors - vectors.mean(0)) / (vectors.std(0) + 1e-6)
    chosen = [int(np.argmin((scaled ** 2).sum(1)))]
    distance = ((scaled - scaled[chosen[0]]) ** 2).sum(1)
    while len(chosen) < count:
        nxt = int(np.argmax(distance))
        chosen.append(nxt)
        distance = np.minimum(distance, ((scaled - scaled[nxt]) ** 2).sum(1))
    return sorted(chosen)


def sample_diverse(specs: list[SourceSpec], count: int, *, folder_fps: float = 25.0, stride: int = 5) -> list[SampledFrame]:
    frames, vectors = [], []
    for spec in specs:
        f, v = frame_signatures(spec, folder_fps=folder_fps, stride=stride)
        frames += f
        if len(v):
            vectors.append(v)
    if not frames:
        raise UsageError("no decodable frames in the normal footage given")
    return [frames[i] for i in farthest_point(np.concatenate(vectors), count)]


def split_holdout(specs: list[SourceSpec], fraction: float = 0.25,
                  folder_fps: float = 25.0) -> tuple[list[SourceSpec], list[SourceSpec]]:
    """Every k-th clip is held out for validation (at least one); a single source is split in time."""
    if not specs:
        raise UsageError("rule induction needs normal footage")
    if len(specs) == 1:
        spec = specs[0]
        with _open(spec.path, folder_fps) as video:
            end = spec.end_s if spec.end_s is not None else video.info.duration_s
        cut = spec.start_s + (end - spec.start_s) * (1 - fraction)
        return [SourceSpec(spec.path, spec.start_s, cut)], [SourceSpec(spec.path, cut, end)]
    step = max(int(round(1 / fraction)), 2)
    held = [s for i, s in enumerate(specs) if i % step == step - 1] or [specs[-1]]
    return [s for s in specs if s not in held], held
