"""A thermal camera's 16-bit frames: Ped2 made 16-bit, scored beside the 8-bit original.

    python evals/bench_deep_frames.py --root DIR (or $VADAGENT_DATA) [--work DIR]

A thermal camera's export keeps its sensor's counts in 16-bit TIFFs or PNGs, a scene's temperatures in a
narrow band of them. Ped2 has no thermal footage, so its frames stand in: each 8-bit gray level g is written as
the count 7,400 + g (OpenCV's own cut to 8 bits reads that as gray 28 or 29). Both forms are scored by the
`eval detect` protocol, with the default (self-validation choosing tiers and weights) and with motion+objects
at equal weights (`--no-select`). The scorer maps every folder's counts to 8 bits by one map, its normal
footage's levels (the 1st and 99th percentiles to video's black and white, frame_folder.py), so the gap to the
8-bit rows is what that map costs: a stretch of Ped2's contrast (1.67×: its gray levels 44 to 175 at those
percentiles). Nothing is chosen here. Writes evals/results/bench_deep_frames.{md,json}.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

from vadagent.evals.common import add_data_argument, add_results_argument, write_results
from vadagent.evals.datasets import load_ucsd
from vadagent.evals.detect import run_detect
from vadagent.tools.scorer import ScorerConfig
from vadagent.tools.scorer.selection import describe

FIGURES = ("micro_auc", "macro_auc", "micro_auc_smoothed", "macro_auc_smoothed")
OFFSET = 7400  # the count of gray 0: a scene's band of a 16-bit sensor's range


def deep_copy(root: Path, target: Path) -> Path:
    """Ped2's frame-folder layout with every frame 16-bit (PNG) and its label files beside it."""
    for file in root.iterdir():
        if file.is_file():
            shutil.copy(file, target / file.name)
    for image in sorted(root.glob("*ing/frames/*/*.jpg")):
        out = target / image.relative_to(root).with_suffix(".png")
        out.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out), OFFSET + cv2.imread(str(image), cv2.IMREAD_GRAYSCALE).astype(np.uint16))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser, "--root", "ucsd_ped2")
    add_results_argument(parser)
    parser.add_argument("--work", type=Path, default=None, help="folder for the 16-bit copy (default: a temporary one)")
    parser.add_argument("--sigma", type=float, default=3.0)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(dir=args.work) as work:
        deep = deep_copy(args.root, Path(work))
        for form, root in (("8-bit JPEG (as distributed)", args.root), (f"16-bit PNG ({OFFSET} + gray)", deep)):
            data = load_ucsd(root)
            for setting, config in (("default (self-validated)", ScorerConfig()),
                                    ("motion+objects, equal weights", ScorerConfig(select=False))):
                result = run_detect(data, config, sigma=args.sigma)
                chosen = describe(result["selection"]["chosen"]) if result["selection"] else "+".join(result["tiers"])
                rows.append({"frames": form, "setting": setting, "tiers": chosen,
                             **{k: result[k] for k in (*FIGURES, "events_recalled", "events_total", "fit_seconds",
                                                       "frames_per_second")}})
                print(f"{form:28s} {setting:31s} {chosen:24s} " + " ".join(f"{k}={result[k]}" for k in FIGURES)
                      + f" events {result['events_recalled']}/{result['events_total']}", flush=True)
    lines = ["# A thermal camera's 16-bit frames: Ped2 made 16-bit, beside the 8-bit original", "",
             f"Every 8-bit gray level g of Ped2's frames written as the 16-bit count {OFFSET} + g (read by OpenCV's own "
             "cut to 8 bits, that is gray 28 or 29: a blank picture); every folder mapped to 8 bits by the 1st and 99th "
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
