"""The frame scorer: fit a set of tiers on a site's normal footage, score any video of that site.

Each tier (tiers/) gives a raw score per frame; the scorer turns each into its surprisal under the
normal footage (calibration.py), fuses them with weights, removes one-frame glitches with a 3-frame
median (one frame of latency) and calibrates the result causally (z-units of the normal fused score, no per-video min-max), so
one threshold works on a live stream. `fit` chooses the tier set and weights itself by
self-validation on held-out normal footage with synthetic anomalies (selection.py), by default
whenever there are several tiers and at least AUTO_SELECT_S seconds of footage.
Artefacts are `scorer.json` + `scorer.safetensors`; never pickle. A scorer's settings are config.py's;
how footage is read, footage.py's; what scoring a video gives, result.py's.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import median_filter

from vadagent.errors import ArtifactError, UsageError
from vadagent.tools.scorer.calibration import surprisal, tail_calibration
from vadagent.tools.scorer.config import ScorerConfig
from vadagent.tools.scorer.footage import (
    Extracted,
    SourceSpec,
    background_sample,
    find_overlay,
    probe,
    read_parts,
    seconds_of,
    thinned,
)
from vadagent.tools.scorer.frames import (
    FrameChunk,
    chunks,
    chunks_in_turn,
    time_scale,
    working_size,
)
from vadagent.tools.scorer.grain import footage as footage_grain
from vadagent.tools.scorer.opening import OpeningTracker
from vadagent.tools.scorer.overlay import Overlay
from vadagent.tools.scorer.result import ScoreResult
from vadagent.tools.scorer.tiers import Evidence, Geometry, Tier, TierUnfit, tier_class
from vadagent.tools.scorer.view import FootageView, above_threshold, boxes_moved, joined
from vadagent.tools.video import VideoSource, open_video
from vadagent.tools.video.levels import site_levels
from vadagent.tools.video.regular import pauses_of, shown_frames
from vadagent.types import VideoInfo

log = logging.getLogger(__name__)

ARTIFACT_VERSION = 2
VIEW_KEY = "fit.view"  # the footage's view's median frame in scorer.safetensors (no tier is named "fit")
Progress = Callable[[str, int, int], None]  # stage, done, total


# Self-validation is on by default from this much normal footage. With the folds held out in turn it made
# the same choice on every disjoint 15 s span of a shop camera's footage (450 frames) and on 3 of 4 of
# Ped2's (150 frames; the other chose objects alone, by 0.005), on every span from 30 s on at both
# (evals/bench_selection.py, evals/results/bench_selection{,_shop}.md).
AUTO_SELECT_S = 15.0


class TooFewFrames(UsageError):
    """The normal footage holds fewer than 2 frames: a scorer learns from motion between frames."""


def _warn_if_reshaped(info: VideoInfo, width: int, height: int) -> None:
    """Frames are resized to the scorer's working size; another aspect ratio means another camera
    (or a crop), where what the scorer learnt about places and sizes no longer holds."""
    if abs((info.width / info.height) / (width / height) - 1) > 0.02:
        log.warning("%s: %dx%d frames, but the scorer was fitted on %dx%d footage (another camera or crop?); "
                    "its scores may not mean much here", info.path, info.width, info.height, width, height)


class Scorer:
    def __init__(self, config: ScorerConfig, width: int, height: int, tiers: dict[str, Tier],
                 calibration: dict[str, Any], fit_info: dict | None = None) -> None:
        self.config, self.width, self.height = config, width, height
        self.tiers, self.calibration = tiers, calibration
        self.fit_info = fit_info or {}
        self.for_opening: Scorer | None = None  # fitted on the closing stretch; see fit_on_opening
        self.shots: list[tuple[int, int, Scorer]] = []  # an edited video's later shots, each with its stand-in (cuts.py)
        self.view: FootageView | None = None  # what its footage's camera shows (view.py); None: not judged

    @property
    def scorer_id(self) -> str:
        return "+".join(self.tiers)

    @property
    def geometry(self) -> Geometry:
        return Geometry(self.width, self.height)

    @property
    def description(self) -> str:
        """Its tiers with their fusion weights, as the selection log names them: "motion+objects ×2"."""
        from vadagent.tools.scorer.selection import describe

        return describe({"tiers": list(self.tiers), "weights": {name: self.config.weight(name) for name in self.tiers}})

    @property
    def fps(self) -> float | None:
        """The frame rate of its normal footage (None: saved before it was recorded)."""
        return self.fit_info.get("fps")

    @property
    def threshold(self) -> float:
        return float(self.calibration["threshold"])

    def time_scale(self, video_fps: float) -> float:
        return time_scale(video_fps, self.fps)

    def speed_fps(self, video_fps: float) -> float:
        """Frames per second that turn the tiers' px per frame into px/s: the fitted rate, as a
        video at another rate is scored in its units (the video's own for older scorers)."""
        return self.fps or video_fps

    def fitted_on(self, video: str | Path) -> bool:
        """Whether this scorer's normal footage was (part of) `video` itself."""
        target = Path(video).resolve()
        return any(Path(source["path"]).resolve() == target for source in self.fit_info.get("sources", []))

    def to(self, device: str) -> Scorer:
        for tier in self.tiers.values():
            tier.to(device)
        return self

    # -- fitting -------------------------------------------------------------------------------
    @classmethod
    def fit(cls, sources: list[SourceSpec], config: ScorerConfig | None = None, *, folder_fps: float = 25.0,
            device: str = "cpu", progress: Progress | None = None) -> Scorer:
        from vadagent.tools.scorer.selection import folds_of, select, window_sources

        config = config or ScorerConfig()
        if not sources:
            raise UsageError("fit needs at least one normal video or frame folder")
        started = time.perf_counter()
        infos = [probe(spec.path, folder_fps) for spec in sources]
        sources = [spec.within(info.duration_s) for spec, info in zip(sources, infos)]
        footage_given_s = seconds_of(sources, infos)
        sources, infos = thinned(sources, infos, config.max_footage_s)
        width, height = working_size(infos[0].width, infos[0].height, config.max_side)
        for info in infos[1:]:
            _warn_if_reshaped(info, width, height)
        geometry = Geometry(width, height)
        tiers = {name: tier_class(name)(geometry, **config.params.get(name, {})) for name in config.tiers}
        levels = site_levels([spec.path for spec in sources])  # a thermal site's videos, all read by one map
        overlay = find_overlay(sources, infos, geometry, folder_fps, levels) if config.cover_display else None
        # for the view, and background models
        sample = background_sample(sources, infos, geometry, folder_fps, levels=levels, overlay=overlay)
        for tier in tiers.values():
            if getattr(tier, "needs_background", False):
                tier.set_background(sample)
        fps = float(np.median([info.fps for info in infos]))  # footage at other rates is put in its units
        footage_s = seconds_of(sources, infos)
        wanted = config.select if config.select is not None else footage_s >= AUTO_SELECT_S and len(tiers) > 1
        segments, folds = folds_of(sources, infos) if wanted else (sources, [])
        extracted = read_parts(tiers, segments, config, geometry, folder_fps,
                               keep_frames=window_sources(folds), progress=progress, fps=fps, levels=levels,
                               overlay=overlay)
        if sum(extracted.lengths) < 2:
            raise TooFewFrames(f"{', '.join(map(str, sources))}: the normal footage has fewer than 2 decodable frames "
                               "(a scorer learns from motion between frames)")
        selection = None
        if folds:
            selection = select(tiers, extracted, folds, config, device=device, progress=progress)
            if selection is not None:
                tiers = {name: tiers[name] for name in selection["chosen"]["tiers"]}
                config = replace(config, tiers=list(tiers), weights=selection["chosen"]["weights"], select=False)
        elif wanted:
            log.warning("too little normal footage to hold some out: self-validation skipped")
        scorer = cls(config, width, height, tiers, {})
        scorer.view = FootageView.of(sample)
        training = scorer._fit_tiers(extracted, range(len(segments)), device, progress)
        fused = np.concatenate([median_filter(s, config.median_window, mode="nearest") for s in training])
        mean, std = float(fused.mean()), float(fused.std())
        if not std > 1e-9:
            raise UsageError(f"{', '.join(map(str, sources))}: the normal footage ({len(fused)} frames) shows no variation "
                             "at all (static or blank frames, or too short?); a scorer cannot be calibrated on it")
        scorer.calibration |= {"mean": mean, "std": std,
                               "threshold": float(np.percentile((fused - mean) / std, config.threshold_percentile))}
        # seconds apart from frames: a recording at a variable rate has fewer frames than its seconds at `fps`
        scorer.fit_info |= {"sources": [asdict(s) for s in sources], "frames": int(sum(extracted.lengths)), "fps": fps,
                            "seconds": round(footage_s, 2),
                            "grain": footage_grain(extracted.grain), "view": scorer.view and scorer.view.values(),
                            "fit_seconds": round(time.perf_counter() - started, 2),
                            "stand_in": False}  # fit_on_opening sets it: the video's opening stood in
        if levels is not None:
            scorer.fit_info["levels"] = list(levels)
        if overlay is not None:
            scorer.fit_info["overlay"] = overlay.values()
        if footage_s < footage_given_s - 1e-6:
            scorer.fit_info["thinned_from_s"] = round(footage_given_s, 2)
        if selection is not None:
            scorer.fit_info["selection"] = selection
        log.info("fitted %s on %d frames in %.1f s", scorer.scorer_id, sum(extracted.lengths),
                 scorer.fit_info["fit_seconds"])
        return scorer

    @classmethod
    def fit_on_opening(cls, video: str, config: ScorerConfig | None = None, *, folder_fps: float = 25.0,
                       device: str = "cpu", progress: Progress | None = None) -> Scorer:
        """No normal footage: a scorer fitted on the video's opening, to score that video, shot by shot
        where it is edited (stand_in.py)."""
        from vadagent.tools.scorer.stand_in import fit_on_opening

        return fit_on_opening(cls, video, config or ScorerConfig(), folder_fps, device, progress)

    def _fit_tiers(self, extracted: Extracted, segments, device: str, progress) -> list[np.ndarray]:
        """Fit every tier on the given segments; set each tier's calibration; fused training scores."""
        fused: list[np.ndarray] | None = None
        for name, tier in list(self.tiers.items()):
            clips = [extracted.parts[name][i] for i in segments]
            try:
                raw = tier.fit(clips, budget_s=self.config.budget_s, device=device, progress=progress)
            except TierUnfit as why:
                self._leave_out(name, str(why))
                continue
            if not all(np.isfinite(r).all() for r in raw):  # a tier's fault, not the footage's ("no variation")
                raise RuntimeError(f"the {name} tier scored its normal footage with values that are not finite")
            self.calibration[name] = tail_calibration(np.concatenate(raw))
            z = [self._z(name, r) * self.config.weight(name) for r in raw]
            fused = z if fused is None else [a + b for a, b in zip(fused, z)]
        return fused

    def _leave_out(self, name: str, why: str) -> None:
        left_out = self.fit_info.setdefault("left_out", {})
        left_out[name] = why
        if len(self.tiers) == 1:
            raise UsageError("no scorer tier can be fitted on this normal footage: " + "; ".join(
                f"{tier}: {reason}" for tier, reason in left_out.items()))
        log.warning("scorer tier %s left out: %s", name, why)
        del self.tiers[name]
        self.config = replace(self.config, tiers=list(self.tiers))

    def _z(self, name: str, raw: np.ndarray) -> np.ndarray:
        """A tier's raw scores in the units tiers are fused in (see calibration.py)."""
        return surprisal(raw, self.calibration[name])

    # -- scoring -------------------------------------------------------------------------------
    def score(self, source: str | Path | VideoSource, *, folder_fps: float = 25.0, device: str = "cpu",
              progress: Progress | None = None) -> ScoreResult:
        started = time.perf_counter()
        video = source if isinstance(source, VideoSource) else self._open(source, folder_fps)
        # an edited video's later shots are read by their own stand-ins (_as_fitted_on): this one reads up to them
        shots_apart = bool(self.shots) and video is not source and self.fitted_on(source)
        try:
            result = self._score(video, device, progress, started,
                                 end_s=self.shots[0][0] / video.info.fps if shots_apart else None)
        finally:
            if video is not source:
                video.close()
        return result if isinstance(source, VideoSource) else self._as_fitted_on(source, result, folder_fps, device,
                                                                                   progress)

    def score_each(self, sources: list[str | Path], *, folder_fps: float = 25.0,
                   device: str = "cpu") -> Iterator[ScoreResult]:
        """`score` of each video in turn, the same scores; the next video is decoded, and its flow
        computed, while this one's last frames are read (see frames.chunks_in_turn). An error in one
        video is raised when its turn comes, after the results before it."""
        turns = [(partial(self._open, source, folder_fps), self._timing) for source in sources]
        with closing(chunks_in_turn(turns, self.width, self.height, flow=self.config.flow_for(self.tiers),
                                    chunk=self.config.chunk_frames)) as videos:
            for source, (video, stream) in zip(sources, videos):
                result = self._score(video, device, None, time.perf_counter(), stream=stream)
                yield self._as_fitted_on(source, result, folder_fps, device)

    def _open(self, source: str | Path, folder_fps: float) -> VideoSource:
        """A video to score, a deep one (16-bit frames or video) read by the map its site's normal footage was read by."""
        return open_video(str(source), folder_fps=folder_fps, levels=self.levels)

    @property
    def levels(self) -> tuple[float, float] | None:
        """The (black, white) its normal footage's deep gray was read into 8 bits by (a thermal site's, levels.py)."""
        levels = self.fit_info.get("levels")
        return (float(levels[0]), float(levels[1])) if levels else None

    @property
    def overlay(self) -> Overlay | None:
        """The camera's clock and captions its normal footage showed, covered in every frame it reads."""
        return Overlay.of(self.fit_info.get("overlay"))

    def _timing(self, video: VideoSource) -> dict:
        """`chunks`' options that put a video's motion in this scorer's frame intervals, its footage's grain and view
        (without a view, where the video cuts is looked for: a video's opening standing in for footage may be edited)."""
        return {"time_scale": self.time_scale(video.info.fps), "fitted_fps": self.fps,
                "footage_grain": self.fit_info.get("grain"), "footage_view": self.view, "find_cuts": self.view is None,
                "overlay": self.overlay}

    def _as_fitted_on(self, source: str | Path, result: ScoreResult, folder_fps: float, device: str,
                      progress: Progress | None = None) -> ScoreResult:
        """`result` of a video given by path, marked where this scorer's normal footage came from it."""
        if self.fitted_on(source):
            result.self_fitted = True
            # normal footage a user gave from this video (`--normal VIDEO#t=0,60`) is as good as any; a
            # scorer saved before this was recorded fills as it did then, on any footage of the video
            result.stand_in = bool(self.fit_info.get("stand_in", True))
            result = self._own_opening(source, result, folder_fps, device)
            # an edited video's later shots, each read by its own stand-in (`score` read up to them; `score_each`
            # read on, its scores of them are dropped)
            result = result.until(self.shots[0][0]) if self.shots else result
            for start, end, shot in self.shots:
                def on(stage: str, done: int, total: int, start: int = start) -> None:  # one bar for the whole video
                    progress(stage, start + done, total)

                part = shot._range(source, start, end, folder_fps, device, progress=on if progress else None)
                result = result.then(shot._own_opening(source, part, folder_fps, device))
                result.cuts, result.shots = sorted({*result.cuts, start}), [*result.shots, start]
        return result

    def _own_opening(self, source: str | Path, result: ScoreResult, folder_fps: float, device: str) -> ScoreResult:
        """`result` with the frames of this stand-in's footage scored by `for_opening`, where it has one."""
        if self.for_opening is None:
            return result
        footage = self.fit_info["sources"][0]
        start = round(footage["start_s"] * result.info.fps)  # `result` is this video's: no need to open it again
        opening = self.for_opening._range(source, start, None, folder_fps, device, end_s=footage["end_s"])
        return result.spliced(opening, start)

    def _range(self, source: str | Path, start: int, end: int | None, folder_fps: float, device: str, *,
               end_s: float | None = None, progress: Progress | None = None) -> ScoreResult:
        """The scores of frames `start` to `end` (or to `end_s`) of a video, read from `start` as if it began there."""
        with self._open(source, folder_fps) as video:
            fps = video.info.fps
            return self._score(video, device, progress, time.perf_counter(), start_s=start / fps,
                               end_s=end / fps if end is not None else end_s)

    def _score(self, video: VideoSource, device: str, progress: Progress | None, started: float,
               end_s: float | None = None, stream: Iterator[FrameChunk] | None = None, start_s: float = 0.0
               ) -> ScoreResult:
        """`video`'s scores, from `stream` where its chunks are already under way."""
        info = video.info
        _warn_if_reshaped(info, self.width, self.height)
        readers = {name: tier.reader() for name, tier in self.tiers.items()}
        raw: dict[str, dict[int, float]] = {name: {} for name in self.tiers}
        evidence: dict[str, list[Evidence]] = {name: [] for name in self.tiers}
        opening = OpeningTracker()
        scale = self.time_scale(info.fps)
        if abs(scale - 1.0) > 0.01:
            log.info("%s: %.3g frames/s against the %.3g of the normal footage; motion is compared per %.3g s",
                     info.path, info.fps, self.fps, 1.0 / self.fps)
        # closed before the caller closes the video, even on an error: the decoding thread stops first
        if stream is None:
            stream = chunks(video, self.width, self.height, flow=self.config.flow_for(self.tiers),
                            chunk=self.config.chunk_frames, start_s=start_s, end_s=end_s, **self._timing(video))
        picture: list[tuple[int, str]] = []
        read_by_tiers: list[tuple[int, str]] = []  # what the tiers said of the picture (a shadow read as light), as steps
        view, flagged, moves = [], {}, []  # the view's changes, the frames they flag, each move from its first frame
        cuts: list[int] = []
        repeats: list[int] = []
        with closing(stream):
            for chunk in stream:
                opening.feed(chunk)
                cuts += chunk.cuts
                repeats += chunk.repeats
                if chunk.view:
                    view += chunk.view.changes
                    flagged |= chunk.view.flagged
                    for first, warp in chunk.view.moves:
                        if not moves or moves[-1][1] is not warp:
                            moves.append((first, warp))
                if chunk.reading != (picture[-1][1] if picture else ""):
                    picture.append((int(chunk.indices[0]), chunk.reading))
                said = []
                for name, reader in readers.items():
                    scored = self.tiers[name].score(reader.feed(chunk), device)
                    said += [scored.reading] if scored.reading else []
                    raw[name].update(zip(scored.indices.tolist(), scored.scores.tolist()))
                    if scored.evidence is not None:
                        evidence[name].append(scored.evidence)
                if "; ".join(said) != (read_by_tiers[-1][1] if read_by_tiers else ""):
                    read_by_tiers.append((int(chunk.indices[0]), "; ".join(said)))
                if progress:
                    progress("scoring", len(next(iter(raw.values()))) + len(repeats), info.frame_count)
        first = next(iter(raw.values()))
        if not first:
            raise UsageError(f"{info.path}: no decodable frames to score")
        seen = max(max(first), max(repeats, default=0)) + 1  # frames read, those shown again included
        count = seen if end_s is not None else max(info.frame_count, seen)
        shown = shown_frames(count, repeats)  # each frame's own, or for one shown again, the frame it repeats
        per_tier = {name: self._z(name, _fill(values, count))[shown] for name, values in raw.items()}
        fused = sum(self.config.weight(name) * z for name, z in per_tier.items())
        own = shown == np.arange(count)
        fused[own] = median_filter(fused[own], self.config.median_window, mode="nearest")
        fused = fused[shown]
        scores = ((fused - self.calibration["mean"]) / self.calibration["std"]).astype(np.float32)
        weights = {name: self.config.weight(name) for name in per_tier}
        merged = Evidence.strongest(per_tier, evidence, weights, count)
        if repeats:
            merged = merged.take(shown)
            merged.frame = np.arange(count)
        for (first, warp), (last, _) in zip(moves, [*moves[1:], (count, None)]):
            if warp is not None:  # boxes found on frames put back on the footage's view, where they are in the video
                merged.box[first:last] = boxes_moved(merged.box[first:last], warp)
        merged = merged.to_source((self.width / info.width, self.height / info.height), self.speed_fps(info.fps))
        if flagged:
            scores = above_threshold(scores, flagged, self.threshold).astype(np.float32)
            _view_evidence(merged, flagged, info)
        picture = joined(joined(picture, read_by_tiers), view)
        # the median filter and the tiers' one-frame history carry the opening a few frames on
        settled = count if opening.end is None else min(count, opening.end + self.config.median_window) if opening.end else 0
        return ScoreResult(info, self.scorer_id, scores, self.threshold, merged, video.skipped,
                           time.perf_counter() - started, per_tier, settled, damaged=video.damaged(), picture=picture,
                           cuts=cuts, clock=video.clock, paused=pauses_of(repeats, info.fps))

    # -- artefacts -------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        from safetensors.numpy import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays, tiers = {}, {}
        for name, tier in self.tiers.items():
            tier_arrays, values = tier.state()
            arrays |= {f"{name}.{k}": np.ascontiguousarray(v) for k, v in tier_arrays.items()}
            tiers[name] = {"params": tier.param_dict(), "values": values}
        if self.view is not None:
            arrays[VIEW_KEY] = self.view.median
        save_file(arrays, str(folder / "scorer.safetensors"))
        meta = {"artifact": "vadagent-scorer", "version": ARTIFACT_VERSION, "scorer_id": self.scorer_id,
                "config": self.config.to_dict(), "width": self.width, "height": self.height, "tiers": tiers,
                "calibration": self.calibration, "fit": self.fit_info}
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
            # scorers saved before the flow preset was a setting were fitted on the coarse one
            config = ScorerConfig.from_dict({"flow": "coarse", **meta["config"]})
            geometry = Geometry(int(meta["width"]), int(meta["height"]))
            tiers = {}
            for name in config.tiers:
                saved, kind = meta["tiers"][name], tier_class(name)
                tier = kind(geometry, **{**kind.saved_before, **saved["params"]})
                prefix = f"{name}."
                tier.restore({k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)},
                             saved["values"])
                tiers[name] = tier
            calibration = meta["calibration"]
            _check_finite(calibration, arrays)
            scorer = cls(config, geometry.width, geometry.height, tiers, calibration, meta.get("fit"))
            if VIEW_KEY in arrays and scorer.fit_info.get("view"):  # a scorer saved before views were kept: none
                scorer.view = FootageView(arrays[VIEW_KEY], **scorer.fit_info["view"])
        except (ArtifactError, UsageError) as exc:
            raise ArtifactError(f"{folder}: {exc}") from None
        except Exception as exc:  # safetensors, shape and key errors all mean a broken artefact
            raise ArtifactError(f"{folder}: corrupt or incompatible scorer artefact: {exc}") from None
        return scorer


def _view_evidence(evidence: Evidence, flagged: dict[int, str], info: VideoInfo) -> None:
    """The frames a view lost or a camera moved flagged point at the whole picture, and say what it showed."""
    for frame, words in flagged.items():
        if frame < len(evidence.frame):
            evidence.box[frame] = (0, 0, info.width, info.height)
            evidence.speed_px_s[frame] = evidence.direction_deg[frame] = evidence.vs_normal[frame] = 0.0
            evidence.note[frame] = words


def _check_finite(calibration: dict, arrays: dict[str, np.ndarray]) -> None:
    numbers = [calibration["mean"], calibration["std"], calibration["threshold"]]
    for tier in (c for c in calibration.values() if isinstance(c, dict)):
        numbers += [x for v in tier.values() for x in (v if isinstance(v, list) else [v])]
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in numbers) or calibration["std"] <= 0:
        raise ArtifactError("calibration holds a missing, non-finite or zero-spread number")
    bad = [k for k, v in arrays.items() if v.dtype.kind == "f" and not np.isfinite(v).all()]
    if bad:
        raise ArtifactError(f"non-finite values in {', '.join(bad)}")


def _fill(values: dict[int, float], count: int) -> np.ndarray:
    """Scores of undecodable frames are interpolated from their neighbours."""
    known = np.fromiter(values.keys(), dtype=np.int64, count=len(values))
    order = np.argsort(known)
    x, y = known[order], np.fromiter(values.values(), dtype=np.float64, count=len(values))[order]
    return np.interp(np.arange(count), x, y)
