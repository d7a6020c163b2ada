"""A recording whose frames come at uneven times, said at the recording's times.

    python evals/bench_clock.py --data DIR (or $VADAGENT_DATA)

A phone records fewer frames in low light, and a motion-triggered recorder pauses. Each clip (the bundled sample,
and the real clips under DIR/clips long enough to fit on) has its packets re-timed, not re-encoded, two ways: its
frames from 30 % to 55 % of it each shown for two frame intervals ("half rate"), and the rest after 40 % of it five
seconds later ("paused"). One scorer, fitted on the first quarter of the constant-rate clip (at most 15 s), scores
the clip and each re-timed copy, read on a regular clock (as `open_video` reads them from release 68,
`tools/video/regular.py`) and frame for frame (as before). For each candidate of the constant-rate clip above the
threshold (every peak above it one; those below it fill the coverage floor's 30 s windows, which a pause moves) that
starts after the re-timed stretch, its start and end in the copy's time are known (its frames' own times there); the table
gives how far the nearest candidate the copy's reading finds is from them (largest and mean over candidates),
the frames it counts, its rate and how fast it is scored (frames a second of the copy's time).
Writes evals/results/bench_clock.{md,json}.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

from vadagent.evals.common import Timer, clip_benchmark_args, fitted_on_opening, sample_and_clips, write_results
from vadagent.tools.scorer import Scorer
from vadagent.tools.scorer.candidates import CandidatePolicy
from vadagent.tools.video import open_video
from vadagent.tools.video.pyav_file import PyAVFile

CLIPS = ("robbery.mp4", "earthquake.mp4")  # car_accident.mp4 (4 s) is too short to fit a scorer on its quarter
PAUSE_S = 5.0
# every peak above the threshold a candidate: the default's budget of 6 a minute chooses among near ties, which the
# 5 s a pause adds to a video's length can turn (robbery: its ten candidates were nine of the copy's)
EVERY_PEAK = CandidatePolicy(calls_per_minute=60)


def half_rate(start_s: float, end_s: float) -> Callable[[float], float]:
    return lambda t: t if t < start_s else start_s + 2 * (t - start_s) if t < end_s else t + (end_s - start_s)


def paused(at_s: float) -> Callable[[float], float]:
    return lambda t: t if t < at_s else t + PAUSE_S


def retimed(source: Path, target: Path, warp: Callable[[float], float]) -> None:
    """`source`'s packets with every time t moved to warp(t) (monotonic, so decoding order and pts ≥ dts hold)."""
    with av.open(str(source)) as src, av.open(str(target), "w") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        base = src.streams.video[0].time_base
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is None:
                continue
            packet.pts, packet.dts = (int(round(warp(float(v * base)) / base)) for v in (packet.pts, packet.dts))
            packet.stream = stream
            dst.mux(packet)


def starts_and_ends(clip: Path, scorer: Scorer) -> tuple[list[tuple[int, int]], np.ndarray, float]:
    """The constant-rate clip's candidates as frame spans, its frames' times, and its rate."""
    with PyAVFile(str(clip)) as video:
        times, fps = video.frame_times(), video.info.fps
    result = scorer.score(clip)
    return [(round(c.start_s * fps), round(c.end_s * fps) - 1) for c in result.candidates(EVERY_PEAK, sigma=3)
            if not c.below_threshold], times, fps


def measure(copy: Path, reading: str, scorer: Scorer, spans: list[tuple[int, int]], times: np.ndarray, fps: float,
            warp: Callable[[float], float], after_s: float) -> dict:
    video = open_video(copy) if reading == "regular clock" else PyAVFile(str(copy))
    with video, Timer() as timer:
        result = scorer.score(video)
    found = [c for c in result.candidates(EVERY_PEAK, sigma=3) if not c.below_threshold]
    errors = []
    for first, last in spans:
        if times[first] < after_s:
            continue
        start, end = warp(times[first]), warp(times[last]) + 1 / fps  # where the copy shows those frames
        errors.append(min(max(abs(c.start_s - start), abs(c.end_s - end)) for c in found) if found else np.inf)
    return {"reading": reading, "frames": result.info.frame_count, "fps": round(result.info.fps, 3),
            "candidates_compared": len(errors), "largest_error_s": round(float(max(errors)), 2) if errors else None,
            "mean_error_s": round(float(np.mean(errors)), 2) if errors else None,
            "frames_per_second": round(result.info.frame_count / timer.seconds, 1)}


def main() -> None:
    args = clip_benchmark_args(__doc__)
    clips = sample_and_clips(args.data, CLIPS)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for clip in clips:
            with PyAVFile(str(clip)) as video:
                length = video.info.duration_s
            scorer = fitted_on_opening(clip, length)
            spans, times, fps = starts_and_ends(clip, scorer)
            for variant, warp, after_s in (("half rate", half_rate(0.3 * length, 0.55 * length), 0.55 * length),
                                           ("paused", paused(0.4 * length), 0.4 * length)):
                copy = Path(folder) / f"{clip.stem}-{variant.replace(' ', '_')}.mp4"
                retimed(clip, copy, warp)
                for reading in ("frame for frame", "regular clock"):
                    row = {"clip": clip.name, "variant": variant, "clip_frames": len(times),
                           **measure(copy, reading, scorer, spans, times, fps, warp, after_s)}
                    rows.append(row)
                    print(row, flush=True)
    lines = ["# A recording whose frames come at uneven times", "",
             "Candidates of the constant-rate clip after the re-timed stretch, against the nearest the copy's reading "
             "finds, in the copy's time (seconds; start or end, whichever is further).", "",
             "| clip | variant | reading | frames (clip's) | fps | candidates | largest error s | mean error s | "
             "frames/s |", "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['clip']} | {r['variant']} | {r['reading']} | {r['frames']} ({r['clip_frames']}) | {r['fps']} | "
              f"{r['candidates_compared']} | {r['largest_error_s']} | {r['mean_error_s']} | {r['frames_per_second']} |"
              for r in rows]
    print("written to", write_results("bench_clock", {"rows": rows}, "\n".join(lines), args.results))


if __name__ == "__main__":
    main()
