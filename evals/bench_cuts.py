"""How well consecutive frames' layouts agree within a shot and across a cut, which `tools/scorer/cuts.py`'s CUT parts.

    python evals/bench_cuts.py --data ../shared/data

Reads every frame of Ped2's 28 clips, the UCF-Crime sample's nine videos and the three real clips of `clips/` at the
working size and, as `CutFinder` does, holds each frame that shows something (not blank) against the last one before it
that did. Reports per video the lowest agreement among those at or above CUT (within a shot), the cuts (below it) with
their frames, and how long the pass took a frame. No label of any dataset is read. Writes evals/results/bench_cuts.{md,json}.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2

from vadagent.evals.common import add_data_argument, add_results_argument, write_results
from vadagent.tools.scorer.cuts import BLANK, CUT
from vadagent.tools.scorer.frames import working_size
from vadagent.tools.scorer.view import agreement, structure
from vadagent.tools.video import open_video


def agreements(path: Path, folder_fps: float = 10.0) -> tuple[list[tuple[int, float]], int, float]:
    """(frame, its agreement with the last frame before it that showed something), the frames read, seconds taken."""
    started, out, previous, count = time.perf_counter(), [], None, 0
    with open_video(str(path), folder_fps=folder_fps) as video:
        size = working_size(video.info.width, video.info.height)
        for batch in video.scan(gray=True, chunk=64, size=size):
            for index, frame in zip(batch.indices.tolist(), batch.frames):
                count += 1
                if cv2.meanStdDev(frame)[1][0, 0] < BLANK:
                    continue
                layout = structure(frame)
                if previous is not None:
                    out.append((index, agreement(layout, previous)))
                previous = layout
    return out, count, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser)
    add_results_argument(parser)
    args = parser.parse_args()
    videos = [("ucsd_ped2", p) for p in sorted((args.data / "ucsd_ped2").glob("*/frames/*")) if p.is_dir()]
    videos += [("ucf_crime_sample", p) for p in sorted((args.data / "ucf_crime_sample" / "videos").glob("*.mp4"))]
    videos += [("clips", p) for p in sorted((args.data / "clips").glob("*.mp4"))]
    rows = []
    for dataset, path in videos:
        pairs, count, seconds = agreements(path)
        within = [a for _, a in pairs if a >= CUT]
        rows.append({"dataset": dataset, "video": f"{path.parent.parent.name}/{path.name}" if dataset == "ucsd_ped2"
                     else path.name, "frames": count, "within_least": round(min(within), 3) if within else None,
                     "cuts": [[frame, round(a, 3)] for frame, a in pairs if a < CUT],
                     "ms_per_frame": round(1000 * seconds / max(count, 1), 2)})
        print(f"{rows[-1]['video']:32s} within ≥ {rows[-1]['within_least']}  cuts {rows[-1]['cuts']}", flush=True)
    lines = ["# Consecutive frames' layouts: within shots and across cuts", "",
             f"CUT = {CUT} (tools/scorer/cuts.py); blank frames (standard deviation under {BLANK} gray levels) skipped. "
             "Per dataset: the lowest agreement within a shot, and every cut (frame, agreement).", "",
             "| dataset | videos | lowest within a shot | cuts | ms a frame (decode and layout) |", "|---|---|---|---|---|"]
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        group = [r for r in rows if r["dataset"] == dataset]
        least = min(r["within_least"] for r in group if r["within_least"] is not None)
        said = "; ".join(f"{r['video']} {', '.join(f'{f} ({a})' for f, a in r['cuts'])}" for r in group if r["cuts"])
        lines.append(f"| {dataset} | {len(group)} | {least} | {said or 'none'} | "
                     f"{sum(r['ms_per_frame'] * r['frames'] for r in group) / sum(r['frames'] for r in group):.2f} |")
    write_results("bench_cuts", {"cut": CUT, "blank": BLANK, "videos": rows}, "\n".join(lines), args.results)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
