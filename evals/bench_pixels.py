"""A recorder's non-square pixels, read as a player shows them.

    python evals/bench_pixels.py --data DIR (or $VADAGENT_DATA)

A recorder stores its analog channels' 4:3 pictures at fixed sizes whatever their shape (half-D1: 704×288, pixels
twice as tall as wide), a camcorder HDV's 16:9 at 1440×1080. Each clip (the bundled sample, and the real clips under
DIR/clips long enough to fit on) is encoded again two ways, at half its height (pixels 1:2, as half-D1) and at half
its width (2:1), each written twice: stating its pixels' shape, and stating none (how release 68 read both: as
stored). One scorer, fitted on the first quarter of the clip as shot (at most 15 s), scores the clip and each copy.
The table gives the size each is read at and its picture's shape against the clip's; at the
peak frame of each of the clip's candidates above the threshold, how far the copy's evidence box is from the clip's
(in percent of the picture's side), whether it lies on the clip's, and the speed its evidence says against the
clip's; how its scores follow the clip's (Pearson r); and how fast it is scored (frames a second).
Writes evals/results/bench_pixels.{md,json}.
"""

from __future__ import annotations

import tempfile
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from vadagent.evals.common import Timer, clip_benchmark_args, fitted_on_opening, sample_and_clips, write_results
from vadagent.tools.scorer import ScoreResult
from vadagent.tools.scorer.candidates import CandidatePolicy
from vadagent.tools.synthetic import write_video
from vadagent.tools.video import open_video

CLIPS = ("robbery.mp4", "earthquake.mp4")  # car_accident.mp4 (4 s) is too short to fit a scorer on its quarter
EVERY_PEAK = CandidatePolicy(calls_per_minute=60)  # every peak above the threshold a candidate
SAME_BOX = 0.3  # intersection over union at which two boxes are taken for one object's
COPIES = {"half height (1:2)": (1, 2), "half width (2:1)": (2, 1)}  # stored size's share of each side


def peaks(result: ScoreResult) -> list[int]:
    """The frames of the clip's candidates above the threshold at which their scores peak."""
    return [result.info.frame_at(c.peak_s) for c in result.candidates(EVERY_PEAK, sigma=3) if not c.below_threshold]


def compared(copy: ScoreResult, clip: ScoreResult, frames: list[int]) -> tuple[list[float], list[float], list[float]]:
    """At each frame: how far the copy's evidence box is from the clip's, in percent of the picture's side (the
    largest coordinate's; a report's box is drawn over its own picture, so that a squeezed picture's lands on the same
    part), their overlap (intersection over union, on each's picture as a fraction of its sides), and the speed the
    copy's evidence says against the clip's (px/s of each's own picture: what a report and the model are told)."""
    errors, overlaps, speeds = [], [], []
    for frame in frames:
        mine, theirs = copy.evidence_box(frame), clip.evidence_box(frame)
        if mine is None or theirs is None:
            continue
        a, b = np.asarray(mine) / _sides(copy), np.asarray(theirs) / _sides(clip)
        errors.append(100 * float(np.abs(a - b).max()))
        inner = max(min(a[2], b[2]) - max(a[0], b[0]), 0) * max(min(a[3], b[3]) - max(a[1], b[1]), 0)
        overlaps.append(float(inner / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inner)))
        said, shot = copy.evidence.speed_px_s[frame], clip.evidence.speed_px_s[frame]
        if shot > 0:
            speeds.append(float(said / shot))
    return errors, overlaps, speeds


def main() -> None:
    args = clip_benchmark_args(__doc__)
    clips = sample_and_clips(args.data, CLIPS)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for clip in clips:
            with open_video(clip) as video:
                length, fps = video.info.duration_s, video.info.fps
                frames = np.concatenate([batch.frames for batch in video.scan(gray=False)])
            scorer = fitted_on_opening(clip, length)
            with Timer() as timer:
                shot = scorer.score(clip)
            picked = peaks(shot)
            rows.append(row(clip.name, "as shot", "square", shot, shot, picked, timer.seconds))
            height, width = frames.shape[1:3]
            for name, (wide, tall) in COPIES.items():
                stored = (width // wide // 2 * 2, height // tall // 2 * 2)  # even sides, as H.264 in 4:2:0 wants
                squeezed = [cv2.resize(frame, stored, interpolation=cv2.INTER_AREA) for frame in frames]
                shape = Fraction(width * stored[1], height * stored[0])  # each stored pixel's width to its height
                for stating in (shape, Fraction(1)):
                    copy = Path(folder) / f"{clip.stem}-{wide}x{tall}-{stating.numerator}_{stating.denominator}.mp4"
                    write_video(copy, squeezed, fps, pixels=stating)
                    with Timer() as timer:
                        result = scorer.score(copy)
                    said = f"stated {stating.numerator}:{stating.denominator}" if stating != 1 else "not stated (read as stored)"
                    rows.append(row(clip.name, name, said, result, shot, picked, timer.seconds))
    lines = ["# A recorder's non-square pixels", "",
             "picture shape: the width-to-height of the frames read (what the model and a report's pictures show), "
             "against the clip's. At the clip's candidates' peaks: the copy's evidence box against the clip's, in "
             "percent of the picture's side (median), the share of them on the clip's (intersection over union "
             f"≥ {SAME_BOX}), and the median of the speed its evidence says over the clip's (px/s). scores r: Pearson r "
             "of the copy's scores with the clip's.", "",
             "| clip | copy | pixels | read at | picture shape | candidates | box error % | boxes on the clip's | "
             "speed ratio | scores r | frames/s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['clip']} | {r['copy']} | {r['pixels']} | {r['read_at']} | {r['picture_shape_vs_shot']} | "
              f"{r['candidates']} | {r['median_box_error_pct']} | {r['boxes_on_the_clips']} | {r['median_speed_ratio']} | "
              f"{r['scores_r']} | {r['frames_per_second']} |" for r in rows]
    print("written to", write_results("bench_pixels", {"rows": rows}, "\n".join(lines), args.results))


def row(clip: str, copy: str, pixels: str, result: ScoreResult, shot: ScoreResult, picked: list[int],
        seconds: float) -> dict:
    boxes, overlaps, speeds = compared(result, shot, picked)
    measured = {"clip": clip, "copy": copy, "pixels": pixels, "read_at": _size(result),
                "picture_shape_vs_shot": round(_shape(result) / _shape(shot), 3), "candidates": len(boxes),
                "median_box_error_pct": round(float(np.median(boxes)), 1) if boxes else None,
                "boxes_on_the_clips": round(float(np.mean(np.asarray(overlaps) >= SAME_BOX)), 2) if overlaps else None,
                "median_speed_ratio": round(float(np.median(speeds)), 2) if speeds else None,
                "scores_r": round(float(np.corrcoef(shot.scores, result.scores)[0, 1]), 3),
                "frames_per_second": round(len(result.scores) / seconds, 1)}
    print(measured, flush=True)
    return measured


def _size(result: ScoreResult) -> str:
    return f"{result.info.width}×{result.info.height}"


def _sides(result: ScoreResult) -> np.ndarray:
    return np.asarray([result.info.width, result.info.height] * 2, float)


def _shape(result: ScoreResult) -> float:
    return result.info.width / result.info.height


if __name__ == "__main__":
    main()
