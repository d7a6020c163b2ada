"""A thermal camera's 16-bit frames and video: Ped2 made 16-bit, scored beside the 8-bit original.

    python evals/bench_deep_frames.py --root DIR (or $VADAGENT_DATA) [--work DIR]

A thermal camera's export keeps its sensor's counts in 16-bit TIFFs or PNGs, a scene's temperatures in a
narrow band of them; recorded as video, 16-bit gray FFV1 (a UVC camera's Y16 captured by FFmpeg). Ped2 has no
thermal footage, so its frames stand in: each 8-bit gray level g is written as the count 7,400 + g (OpenCV's and
FFmpeg's own cut to 8 bits reads that as gray 28 or 29), as PNGs and as one FFV1 video a clip. Each form is scored by the
`eval detect` protocol, with the default (self-validation choosing tiers and weights) and with motion+objects
at equal weights (`--no-select`). The scorer maps every folder's counts to 8 bits by one map, its normal
footage's levels (the 1st and 99th percentiles to video's black and white, levels.py), so the gap to the
8-bit rows is what that map costs: a stretch of Ped2's contrast (1.67×: its gray levels 44 to 175 at those
percentiles). Nothing is chosen here. Writes evals/results/bench_deep_frames.{md,json}.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from vadagent.evals.common import add_data_argument, add_results_argument, write_results
from vadagent.evals.datasets import FrameDataset, load_ucsd
from vadagent.evals.detect import run_detect
from vadagent.tools.scorer import ScorerConfig
from vadagent.tools.scorer.selection import describe
from vadagent.tools.video import frame_files

FIGURES = ("micro_auc", "macro_auc", "micro_auc_smoothed", "macro_auc_smoothed")
OFFSET = 7400  # the count of gray 0: a scene's band of a 16-bit sensor's range


def deep_copy(root: Path, target: Path) -> Path:
    """Ped2's frame-folder layout with every frame 16-bit (PNG) and its label files beside it."""
    target.mkdir(parents=True, exist_ok=True)
    for file in root.iterdir():
        if file.is_file():
            shutil.copy(file, target / file.name)
    for image in sorted(root.glob("*ing/frames/*/*.jpg")):
        out = target / image.relative_to(root).with_suffix(".png")
        out.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out), OFFSET + cv2.imread(str(image), cv2.IMREAD_GRAYSCALE).astype(np.uint16))
    return target


def deep_videos(data: FrameDataset, target: Path) -> FrameDataset:
    """`data` (a 16-bit frame-folder copy) with each clip as one 16-bit gray FFV1 video at its frame rate."""
    def video(folder: Path) -> Path:
        out = target / folder.parent.parent.name / f"{folder.name}.mkv"
        out.parent.mkdir(parents=True, exist_ok=True)
        with av.open(str(out), "w") as container:
            frames = [cv2.imread(str(f), cv2.IMREAD_ANYDEPTH) for f in frame_files(folder)]
            stream = container.add_stream("ffv1", rate=Fraction(data.fps).limit_denominator(1001))
            stream.pix_fmt, stream.height, stream.width = "gray16le", *frames[0].shape
            for frame in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="gray16le")))
            container.mux(stream.encode())
        return out

    return replace(data, train=[video(f) for f in data.train], test=[replace(v, path=video(v.path)) for v in data.test])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser, "--root", "ucsd_ped2")
    add_results_argument(parser)
    parser.add_argument("--work", type=Path, default=None, help="folder for the 16-bit copy (default: a temporary one)")
    parser.add_argument("--sigma", type=float, default=3.0)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(dir=args.work) as work:
        deep = deep_copy(args.root, Path(work) / "frames")
        forms = (("8-bit JPEG (as distributed)", load_ucsd(args.root)), (f"16-bit PNG ({OFFSET} + gray)", load_ucsd(deep)),
                 (f"16-bit FFV1 video ({OFFSET} + gray)", deep_videos(load_ucsd(deep), Path(work) / "videos")))
        for form, data in forms:
            for setting, config in (("default (self-validated)", ScorerConfig()),
                                    ("motion+objects, equal weights", ScorerConfig(select=False))):
                result = run_detect(data, config, sigma=args.sigma)
                chosen = describe(result["selection"]["chosen"]) if result["selection"] else "+".join(result["tiers"])
                rows.append({"frames": form, "setting": setting, "tiers": chosen,
                             **{k: result[k] for k in (*FIGURES, "events_recalled", "events_total", "fit_seconds",
                                                       "frames_per_second")}})
                print(f"{form:28s} {setting:31s} {chosen:24s} " + " ".join(f"{k}={result[k]}" for k in FIGURES)
                      + f" events {result['events_recalled']}/{result['events_total']}", flush=True)
    lines = ["# A thermal camera's 16-bit frames and video: Ped2 made 16-bit, beside the 8-bit original", "",
             f"Every 8-bit gray level g of Ped2's frames written as the 16-bit count {OFFSET} + g, as PNGs and as one "
             "16-bit gray FFV1 video a clip (read by OpenCV's or FFmpeg's own cut to 8 bits, that is gray 28 or 29: a blank "
             "picture); every folder or video mapped to 8 bits by the 1st and 99th "
             "percentiles of the normal footage's levels. Frame AUC by the `eval detect` protocol, micro (pooled) and "
             "macro (mean per video), "
             f"raw and smoothed (Gaussian sigma {args.sigma:g} frames per video); events kept at the 10 % budget. "
             "Nothing is chosen here.", "",
             "| frames | setting | tiers | micro AUC | macro AUC | micro σ | macro σ | events @10 % | fit (s) | frames/s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['frames']} | {r['setting']} | {r['tiers']} | "
                     + " | ".join(f"{r[k]:.4f}" for k in FIGURES)
                     + f" | {r['events_recalled']}/{r['events_total']} | {r['fit_seconds']:.1f} | {r['frames_per_second']:.0f} |")
    path = write_results("bench_deep_frames", {"rows": rows, "offset": OFFSET, "sigma": args.sigma}, "\n".join(lines) + "\n",
                         args.results)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
