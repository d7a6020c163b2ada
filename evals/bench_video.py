"""Video IO speed: vadagent's scan and random-access paths against the raw decoders, same run.

    python evals/bench_video.py --data DIR (or $VADAGENT_DATA)

Frames/s of each path on a real H.264/HEVC clip and on a UCSD Ped2 frame folder, with the
ratio to the raw PyAV decoder (frames decoded, nothing converted) measured in the same run.
Writes evals/results/bench_video.{md,json}.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import cv2
import numpy as np

from vadagent.evals.common import Timer, add_data_argument, add_results_argument, write_results
from vadagent.tools.video import open_video

RANDOM_FRAMES = 16


def _raw_pyav(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


def _raw_pyav_images(folder: Path) -> int:
    files = sorted(folder.glob("*.jpg"))
    count = 0
    for file in files:
        with av.open(str(file)) as container:
            count += sum(1 for _ in container.decode(video=0))
    return count


def _opencv_scan(path: Path) -> int:
    capture, count = cv2.VideoCapture(str(path)), 0
    while capture.grab():
        capture.retrieve()
        count += 1
    return count


def _opencv_random(path: Path, indices: np.ndarray) -> int:
    capture = cv2.VideoCapture(str(path))
    for index in indices:
        capture.set(cv2.CAP_PROP_POS_FRAMES, int(index))
        ok, _ = capture.read()
        assert ok
    return len(indices)


def _decord_random(path: Path, indices: np.ndarray) -> int:
    import decord

    reader = decord.VideoReader(str(path), ctx=decord.cpu(0))
    return len(reader.get_batch(indices.tolist()).asnumpy())


def _scan(path: Path, gray: bool) -> int:
    with open_video(path) as video:
        return sum(len(b) for b in video.scan(gray=gray))


def _read(path: Path, indices: np.ndarray) -> int:
    with open_video(path) as video:
        return len(video.read(indices, gray=False))


def measure(rows: list[dict], source: str, label: str, baseline: float | None, fn, *args) -> float:
    with Timer() as timer:
        frames = fn(*args)
    fps = frames / timer.seconds
    rows.append({"source": source, "path": label, "frames": frames, "seconds": round(timer.seconds, 3),
                 "frames_per_s": round(fps, 1), "vs_raw_pyav": round(fps / baseline, 2) if baseline else 1.0})
    print(f"{source:>12}  {label:<44} {frames:6d} frames  {fps:9.1f} frames/s")
    return fps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_argument(parser)
    add_results_argument(parser)
    args = parser.parse_args()
    clip = args.data / "clips" / "robbery.mp4"
    folder = args.data / "ucsd_ped2" / "testing" / "frames" / "01"
    rows: list[dict] = []
    rng = np.random.default_rng(0)

    with open_video(clip) as video:
        indices = np.sort(rng.choice(video.info.frame_count, RANDOM_FRAMES, replace=False))
    base = measure(rows, "robbery.mp4", "raw PyAV decode (baseline)", None, _raw_pyav, clip)
    measure(rows, "robbery.mp4", "vadagent scan, gray (luma plane)", base, _scan, clip, True)
    measure(rows, "robbery.mp4", "vadagent scan, RGB", base, _scan, clip, False)
    measure(rows, "robbery.mp4", "OpenCV VideoCapture scan, BGR", base, _opencv_scan, clip)
    measure(rows, "robbery.mp4", f"vadagent read, {RANDOM_FRAMES} random frames (PyAV seek)", base, _read, clip, indices)
    measure(rows, "robbery.mp4", f"decord get_batch, {RANDOM_FRAMES} random frames", base, _decord_random, clip, indices)
    measure(rows, "robbery.mp4", f"OpenCV seek+read, {RANDOM_FRAMES} random frames", base, _opencv_random, clip, indices)

    base = measure(rows, "ped2 test 01", "raw PyAV decode of each JPEG (baseline)", None, _raw_pyav_images, folder)
    measure(rows, "ped2 test 01", "vadagent scan, gray (cv2.imread, 2 threads)", base, _scan, folder, True)
    measure(rows, "ped2 test 01", "vadagent scan, RGB", base, _scan, folder, False)

    lines = ["# Video IO speed", "", "| source | path | frames | s | frames/s | × raw PyAV |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['source']} | {r['path']} | {r['frames']} | {r['seconds']} | {r['frames_per_s']} | {r['vs_raw_pyav']} |"
              for r in rows]
    print("written to", write_results("bench_video", {"rows": rows}, "\n".join(lines), args.results))


if __name__ == "__main__":
    main()
