"""Large camera frames taken down to the scorer's working size: release 36's path against this one's.

    python evals/bench_shrink.py --data DIR (or $VADAGENT_DATA)

1. The resize alone, at camera sizes (720p to 4K), on frames of a real clip (`clips/robbery.mp4`, 852×480,
   upscaled): OpenCV's area resize in one step (release 36) against `tools.video.shrink.shrink` (a whole
   factor first where the frame is at least 4× the target), ms per frame and the mean and largest
   gray-level difference between the two.
2. End to end: `Scorer.score` of that clip's first seconds upscaled to 1080p and 4K and encoded as cameras
   write them (H.264, a keyframe every 2 s), release 36's path (whole frames decoded into each chunk,
   resized in one step by the scorer) against this one's (each frame shrunk as it is decoded), in
   interleaved rounds (the median of each) on one fitted scorer, with how far the two paths' scores differ.
Writes evals/results/bench_shrink.{md,json}.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

import vadagent.tools.video.shrink as shrinking
from vadagent.evals.common import add_data_argument, add_results_argument, write_results
from vadagent.tools.scorer import Scorer, ScorerConfig, SourceSpec
from vadagent.tools.scorer.frames import working_size
from vadagent.tools.video import FrameBatch, VideoSource, open_video

SIZES = ((1280, 720), (1920, 1080), (2560, 1440), (2688, 1520), (3840, 2160))
CLIP_SIZES = ((1920, 1080), (3840, 2160))
SECONDS = 12.0  # of the clip, upscaled; the scorer is fitted on its first FIT_S and scores it all
FIT_S = 6.0
ROUNDS = 3


class WholeFrames(VideoSource):
    """Release 36's reading: frames decoded whole into each chunk whatever size the reader wants."""

    def __init__(self, inner: VideoSource) -> None:
        self.inner, self.info = inner, inner.info

    def scan(self, *, size: tuple[int, int] | None = None, **options):
        return self.inner.scan(**options)

    def read(self, indices, *, gray: bool = False) -> FrameBatch:
        return self.inner.read(indices, gray=gray)

    def close(self) -> None:
        self.inner.close()


def one_step() -> None:
    shrinking.MIN_FACTOR = 10**9  # no whole-factor step: release 36's resize


def two_steps() -> None:
    shrinking.MIN_FACTOR = DEFAULT_MIN_FACTOR


DEFAULT_MIN_FACTOR = shrinking.MIN_FACTOR


def _frames(clip: Path, seconds: float) -> list[np.ndarray]:
    with open_video(clip) as video:
        return [f for b in video.scan(gray=True, end_s=seconds) for f in b.frames]


def resize_rows(frames: list[np.ndarray]) -> list[dict]:
    rows = []
    for width, height in SIZES:
        big = [cv2.resize(f, (width, height), interpolation=cv2.INTER_CUBIC) for f in frames]
        target = working_size(width, height)
        timings: dict[str, list[float]] = {"one step": [], "shrink": []}
        outputs: dict[str, list[np.ndarray]] = {}
        for _ in range(ROUNDS):
            for name, setting in (("one step", one_step), ("shrink", two_steps)):
                setting()
                started = time.perf_counter()
                outputs[name] = [shrinking.shrink(f, target) for f in big]
                timings[name].append((time.perf_counter() - started) / len(big) * 1000)
        two_steps()
        gap = np.abs(np.stack(outputs["one step"]).astype(np.int16) - np.stack(outputs["shrink"]).astype(np.int16))
        one, two = (statistics.median(timings[k]) for k in ("one step", "shrink"))
        rows.append({"size": f"{width}×{height}", "target": f"{target[0]}×{target[1]}",
                     "one_step_ms": round(one, 2), "shrink_ms": round(two, 2), "speedup": round(one / two, 2),
                     "mean_gray_difference": round(float(gap.mean()), 3), "max_gray_difference": int(gap.max())})
        print(rows[-1], flush=True)
    return rows


def _encode(frames: list[np.ndarray], size: tuple[int, int], fps: float, target: Path) -> None:
    """As a camera writes it: H.264, yuv420p, a keyframe every 2 s."""
    with av.open(str(target), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23", "g": str(round(2 * fps))}
        for gray in frames:
            big = cv2.resize(gray, size, interpolation=cv2.INTER_CUBIC)
            picture = av.VideoFrame.from_ndarray(np.repeat(big[:, :, None], 3, axis=2), format="rgb24")
            container.mux(stream.encode(picture))
        container.mux(stream.encode())


def end_to_end_rows(clip: Path, folder: Path) -> list[dict]:
    with open_video(clip) as video:
        fps = video.info.fps
    frames = _frames(clip, SECONDS)
    rows = []
    for size in CLIP_SIZES:
        path = folder / f"camera_{size[1]}p.mp4"
        _encode(frames, size, fps, path)
        scorer = Scorer.fit([SourceSpec(str(path), 0.0, FIT_S)], ScorerConfig(select=False))
        speeds: dict[str, list[float]] = {"release 36": [], "shrunk as decoded": []}
        scores: dict[str, np.ndarray] = {}
        for _ in range(ROUNDS):
            for name in speeds:
                (one_step if name == "release 36" else two_steps)()
                with open_video(str(path)) as video:
                    source = WholeFrames(video) if name == "release 36" else video
                    started = time.perf_counter()
                    result = scorer.score(source)
                    speeds[name].append(len(result.scores) / (time.perf_counter() - started))
                scores[name] = result.scores
        two_steps()
        old, new = scores["release 36"], scores["shrunk as decoded"]
        before, after = (statistics.median(speeds[k]) for k in speeds)
        rows.append({"size": f"{size[0]}×{size[1]}", "frames": len(new), "release_36_fps": round(before, 1),
                     "shrunk_fps": round(after, 1), "speedup": round(after / before, 2),
                     "scores_pearson_r": round(float(np.corrcoef(old, new)[0, 1]), 4),
                     "max_score_difference": round(float(np.abs(old - new).max()), 3),
                     "threshold": round(float(scorer.threshold), 3)})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser)
    add_results_argument(parser)
    args = parser.parse_args()
    clip = args.data / "clips" / "robbery.mp4"
    resize = resize_rows(_frames(clip, 1.2))
    with tempfile.TemporaryDirectory() as folder:
        end_to_end = end_to_end_rows(clip, Path(folder))
    lines = ["# Large frames to the working size: release 36 against shrink", "",
             f"Frames of `clips/robbery.mp4` (852×480) upscaled (cubic) to each size; {ROUNDS} interleaved rounds, "
             "the median. Gray-level differences: this release's result against release 36's, per pixel.", "",
             "## The resize alone (ms per frame, one core)", "",
             "| size | to | one step (release 36) | shrink | speed-up | mean gray difference | largest |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['size']} | {r['target']} | {r['one_step_ms']} | {r['shrink_ms']} | {r['speedup']}× | "
              f"{r['mean_gray_difference']} | {r['max_gray_difference']} |" for r in resize]
    lines += ["", f"## End to end (`Scorer.score`, default tiers, fitted on the first {FIT_S:g} s without selection; "
              f"the clip's first {SECONDS:g} s, H.264 with a keyframe every 2 s)", "",
              "| size | frames | release 36 frames/s | shrunk as decoded | speed-up | scores' Pearson r | "
              "largest score difference | threshold |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['size']} | {r['frames']} | {r['release_36_fps']} | {r['shrunk_fps']} | {r['speedup']}× | "
              f"{r['scores_pearson_r']} | {r['max_score_difference']} | {r['threshold']} |" for r in end_to_end]
    payload = {"clip": str(clip), "rounds": ROUNDS, "min_factor": DEFAULT_MIN_FACTOR, "resize": resize,
               "end_to_end": end_to_end}
    print(write_results("bench_shrink", payload, "\n".join(lines), args.results).read_text())


if __name__ == "__main__":
    main()
