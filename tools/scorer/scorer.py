"""The frame scorer: fit on a site's normal footage, score any video of that site.

Scores are calibrated causally on the training footage (z-units of the normal score
distribution, no per-video min-max), so one threshold works on a live stream. A 3-frame median
(one frame of latency) removes single-frame glitches such as dropped or duplicated frames.
Artefacts are `scorer.json` + `scorer.safetensors`; never pickle.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d, median_filter

from vadagent.errors import ArtifactError, UsageError
from vadagent.tools.scorer.features import FeatureConfig, FrameFeatures, MotionFeatureExtractor, working_size
from vadagent.tools.scorer.motion import Evidence, MotionStats, evidence
from vadagent.tools.scorer.net import PredictorConfig
from vadagent.tools.video import VideoSource, open_video
from vadagent.types import FrameScores, VideoInfo

log = logging.getLogger(__name__)

ARTIFACT_VERSION = 1
Progress = Callable[[str, int, int], None]  # stage, done, total


@dataclass(frozen=True)
class SourceSpec:
    """A video plus an optional time range, written `PATH#t=START,END` (W3C media fragments)."""

    path: str
    start_s: float = 0.0
    end_s: float | None = None

    @classmethod
    def parse(cls, text: str) -> SourceSpec:
        match = re.fullmatch(r"(?P<path>.+?)#t=(?P<start>[\d.]*)(?:,(?P<end>[\d.]+))?", text)
        if match is None:
            return cls(text)
        start = float(match["start"] or 0.0)
        end = float(match["end"]) if match["end"] else None
        if end is not None and end <= start:
            raise UsageError(f"{text}: the time range ends ({end:g} s) before it starts ({start:g} s)")
        return cls(match["path"], start, end)


@dataclass
class ScorerConfig:
    max_side: int = 360
    diff_cell: int = 20
    flow_cell: int = 24
    median_window: int = 3
    direction_weight: float = 1.0
    threshold_percentile: float = 99.5
    tier: int = 0  # 0: motion statistics; 1: also the frame-prediction network
    tier1: PredictorConfig = field(default_factory=PredictorConfig)
    tier1_weight: float = 1.0
    tier1_epochs: int = 6
    chunk_frames: int = 64

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ScorerConfig:
        data = dict(data)
        data["tier1"] = PredictorConfig(**data.get("tier1", {}))
        return cls(**data)


@dataclass
class ScoreResult:
    info: VideoInfo
    scorer_id: str
    scores: np.ndarray  # calibrated, before optional smoothing
    threshold: float
    evidence: Evidence
    skipped: int
    seconds: float

    def smoothed(self, sigma: float) -> np.ndarray:
        return gaussian_filter1d(self.scores, sigma, mode="nearest") if sigma > 0 else self.scores

    def frame_scores(self, sigma: float = 0.0) -> FrameScores:
        return FrameScores(
            scorer_id=self.scorer_id, fps=self.info.fps, scores=self.smoothed(sigma).round(4).tolist(),
            smoothing_sigma=sigma, threshold=round(self.threshold, 4),
        )


class _Pass:
    """One streaming pass over a source: motion features, and small frames when tier 1 is on."""

    def __init__(self, features: FeatureConfig, config: ScorerConfig) -> None:
        self.extractor = MotionFeatureExtractor(features)
        self.net_size = (config.tier1.width, config.tier1.height) if config.tier >= 1 else None

    def run(self, video: VideoSource, config: ScorerConfig, start_s: float = 0.0, end_s: float | None = None):
        for batch in video.scan(gray=True, chunk=config.chunk_frames, start_s=start_s, end_s=end_s):
            small = None
            if self.net_size is not None:
                small = np.stack([cv2.resize(f, self.net_size, interpolation=cv2.INTER_AREA) for f in batch.frames])
            yield batch.indices, self.extractor.feed(batch.indices, batch.frames), small
        last = self.extractor.finish()
        if last is not None:
            yield last.indices, last, None


class Scorer:
    def __init__(self, config: ScorerConfig, width: int, height: int, stats: MotionStats,
                 calibration: dict[str, float], predictor=None, fit_info: dict | None = None) -> None:
        self.config, self.width, self.height = config, width, height
        self.stats, self.calibration, self.predictor = stats, calibration, predictor
        self.fit_info = fit_info or {}

    @property
    def scorer_id(self) -> str:
        return f"motion-tier{self.config.tier}"

    @property
    def features(self) -> FeatureConfig:
        return FeatureConfig(self.width, self.height, self.config.diff_cell, self.config.flow_cell)

    # -- fitting -------------------------------------------------------------------------------
    @classmethod
    def fit(cls, sources: list[SourceSpec], config: ScorerConfig | None = None, *, folder_fps: float = 25.0,
            device: str = "cpu", progress: Progress | None = None) -> Scorer:
        config = config or ScorerConfig()
        if not sources:
            raise UsageError("fit needs at least one normal video or frame folder")
        started = time.perf_counter()
        diffs, speeds, flows, smalls, sizes, width, height = [], [], [], [], [], 0, 0
        for number, spec in enumerate(sources, 1):
            with _open(spec.path, folder_fps) as video:
                if not width:
                    width, height = working_size(video.info.width, video.info.height, config.max_side)
                features = FeatureConfig(width, height, config.diff_cell, config.flow_cell)
                clip_small = []
                for _idx, feats, small in _Pass(features, config).run(video, config, spec.start_s, spec.end_s):
                    if feats is not None:
                        diffs.append(feats.diff)
                        speeds.append(feats.speed)
                        flows.append(feats.flow)
                    if small is not None:
                        clip_small.append(small)
                sizes.append(sum(len(d) for d in diffs) - sum(sizes))
                if clip_small:
                    smalls.append(np.concatenate(clip_small))
            if progress:
                progress("reading normal footage", number, len(sources))
        if sum(sizes) < 2:
            raise UsageError("the normal footage has fewer than 2 decodable frames in the given ranges")
        training = FrameFeatures(np.arange(sum(sizes)), np.concatenate(diffs), np.concatenate(speeds),
                                 np.concatenate(flows))
        stats = MotionStats.fit(training.diff, training.speed, training.flow)
        per_clip = np.split(stats.score(training, config.direction_weight), np.cumsum(sizes)[:-1])
        predictor, tier1_stats = None, {}
        if config.tier >= 1:
            predictor, tier1_stats, per_clip = cls._fit_tier1(config, smalls, per_clip, device, progress)
        fused = np.concatenate([median_filter(s, config.median_window, mode="nearest") for s in per_clip])
        mean, std = float(fused.mean()), float(fused.std() or 1.0)
        threshold = float(np.percentile((fused - mean) / std, config.threshold_percentile))
        calibration = {"mean": mean, "std": std, "threshold": threshold} | tier1_stats
        fit_info = {"sources": [asdict(s) for s in sources], "frames": int(sum(sizes)),
                    "fit_seconds": round(time.perf_counter() - started, 2)}
        log.info("fitted %s on %d frames in %.1f s", f"tier {config.tier}", sum(sizes), fit_info["fit_seconds"])
        return cls(config, width, height, stats, calibration, predictor, fit_info)

    @staticmethod
    def _fit_tier1(config, smalls, per_clip, device, progress):
        from vadagent.tools.scorer.train import predictor_errors, train_predictor

        report = (lambda epoch, _loss: progress("training tier 1", epoch, config.tier1_epochs)) if progress else None
        model = train_predictor(smalls, config.tier1, epochs=config.tier1_epochs, device=device, progress=report)
        errors = [predictor_errors(model, clip, device) for clip in smalls]
        joined = np.concatenate(errors)
        stats = {"tier1_mean": float(joined.mean()), "tier1_std": float(joined.std() or 1.0)}
        fused = [t0 + config.tier1_weight * (e - stats["tier1_mean"]) / stats["tier1_std"] for t0, e in zip(per_clip, errors)]
        return model, stats, fused

    # -- scoring -------------------------------------------------------------------------------
    def score(self, source: str | Path | VideoSource, *, folder_fps: float = 25.0, device: str = "cpu",
              progress: Progress | None = None) -> ScoreResult:
        started = time.perf_counter()
        video = source if isinstance(source, VideoSource) else _open(str(source), folder_fps)
        try:
            return self._score(video, device, progress, started)
        finally:
            if video is not source:
                video.close()

    def _score(self, video: VideoSource, device: str, progress: Progress | None, started: float) -> ScoreResult:
        info, scale = video.info, self.width / video.info.width
        t0: dict[int, float] = {}
        t1: dict[int, float] = {}
        parts: list[Evidence] = []
        context: np.ndarray | None = None
        for indices, feats, small in _Pass(self.features, self.config).run(video, self.config):
            if feats is not None:
                t0.update(zip(feats.indices.tolist(), self.stats.score(feats, self.config.direction_weight).tolist()))
                parts.append(evidence(feats, self.stats, self.config.flow_cell, scale, info.fps))
            if small is not None and self.predictor is not None:
                context = self._tier1_chunk(indices, small, context, t1, device)
            if progress:
                progress("scoring", len(t0), info.frame_count)
        if not t0:
            raise UsageError(f"{info.path}: no decodable frames to score")
        count = max(info.frame_count, max(t0) + 1)
        raw = _fill(t0, count)
        if self.predictor is not None:
            c = self.calibration
            raw = raw + self.config.tier1_weight * (_fill(t1, count) - c["tier1_mean"]) / c["tier1_std"]
        raw = median_filter(raw, self.config.median_window, mode="nearest")
        scores = ((raw - self.calibration["mean"]) / self.calibration["std"]).astype(np.float32)
        merged = Evidence(*(np.concatenate([getattr(p, f) for p in parts]) for f in Evidence.__dataclass_fields__))
        return ScoreResult(info, self.scorer_id, scores, self.calibration["threshold"], merged,
                           video.skipped, time.perf_counter() - started)

    def _tier1_chunk(self, indices, small, context, out, device):
        from vadagent.tools.scorer.train import predictor_errors

        need = self.config.tier1.context
        frames = small if context is None else np.concatenate([context, small])
        errors = predictor_errors(self.predictor, frames, device)
        out.update(zip(indices.tolist(), errors[len(frames) - len(small):].tolist()))
        return frames[-need:]

    # -- artefacts -----------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        from safetensors.numpy import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {k: np.ascontiguousarray(v) for k, v in self.stats.arrays().items()}
        if self.predictor is not None:
            arrays |= {f"tier1.{k}": v.detach().cpu().numpy() for k, v in self.predictor.state_dict().items()}
        save_file(arrays, str(folder / "scorer.safetensors"))
        meta = {"artifact": "vadagent-scorer", "version": ARTIFACT_VERSION, "scorer_id": self.scorer_id,
                "config": self.config.to_dict(), "width": self.width, "height": self.height,
                "motion": self.stats.scalars(), "calibration": self.calibration, "fit": self.fit_info}
        (folder / "scorer.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Scorer:
        folder = Path(folder)
        meta_path, weights = folder / "scorer.json", folder / "scorer.safetensors"
        if not meta_path.is_file() or not weights.is_file():
            raise ArtifactError(f"{folder}: not a scorer folder (needs scorer.json and scorer.safetensors; "
                                "make one with 'vadagent fit')")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ArtifactError(f"{meta_path}: corrupt scorer config: {exc}") from None
        if not isinstance(meta, dict) or meta.get("artifact") != "vadagent-scorer":
            raise ArtifactError(f"{meta_path}: not a vadagent scorer config")
        if meta.get("version") != ARTIFACT_VERSION:
            raise ArtifactError(f"{folder}: scorer artefact version {meta.get('version')} is not supported "
                                f"(this vadagent reads version {ARTIFACT_VERSION}); refit with 'vadagent fit'")
        try:
            from safetensors.numpy import load_file

            arrays = load_file(str(weights))
            config = ScorerConfig.from_dict(meta["config"])
            stats = MotionStats.restore(arrays, meta["motion"])
            scorer = cls(config, meta["width"], meta["height"], stats, meta["calibration"], None, meta.get("fit"))
            if stats.speed_cell_p999.shape != scorer.features.flow_grid:
                raise ValueError(f"cell statistics of shape {stats.speed_cell_p999.shape} do not match the config")
            if config.tier >= 1:
                scorer.predictor = _load_predictor(config.tier1, arrays)
        except ArtifactError:
            raise
        except Exception as exc:  # safetensors, shape and key errors all mean a broken artefact
            raise ArtifactError(f"{folder}: corrupt or incompatible scorer artefact: {exc}") from None
        return scorer


def _load_predictor(config: PredictorConfig, arrays: dict[str, np.ndarray]):
    import torch

    from vadagent.tools.scorer.net import FramePredictor

    model = FramePredictor(config)
    state = {k.removeprefix("tier1."): torch.from_numpy(v) for k, v in arrays.items() if k.startswith("tier1.")}
    model.load_state_dict(state, strict=True)
    return model.eval()


def _fill(values: dict[int, float], count: int) -> np.ndarray:
    """Scores of undecodable frames are interpolated from their neighbours."""
    known = np.fromiter(values.keys(), dtype=np.int64, count=len(values))
    order = np.argsort(known)
    x, y = known[order], np.fromiter(values.values(), dtype=np.float64, count=len(values))[order]
    return np.interp(np.arange(count), x, y)


def _open(path: str, folder_fps: float) -> VideoSource:
    return open_video(path, folder_fps=folder_fps)
