"""The same site seen by a smaller camera: UCSD Ped2 shrunk, fitted and scored as at its own size.

    python evals/bench_resolution.py --root DIR (or $VADAGENT_DATA) [--sizes 238x158,180x120] [--copies DIR]
        [--tier-sets default,motion,objects]

Every training and test frame of Ped2 (360×240) is area-shrunk to each size (238×158 is UCSD Ped1's
camera; 180×120 a quarter of the pixels) into a temporary copy of the dataset, and `eval detect`'s protocol
runs on each copy and on Ped2 as it is, in one run: the default scorer (self-validation on) fitted on the
training clips, the test clips scored; with `--tier-sets`, each tier alone too (no selection), to see which
loses at a small size. What this measures is how much the scorer's figures depend on the
camera's pixel count at one site, with everything else the same; nothing is chosen on it (the test labels
are Ped2's, seen before). `--copies DIR` keeps the shrunk copies there (as DIR/WxH/, Ped2's layout), for the
label-free benchmarks to read their training clips. Writes evals/results/bench_resolution.{md,json}.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import cv2

from vadagent.evals.common import add_data_argument, add_results_argument, write_results
from vadagent.evals.datasets import load_ucsd
from vadagent.evals.detect import run_detect
from vadagent.tools.scorer import ScorerConfig
from vadagent.tools.scorer.selection import describe
from vadagent.tools.video import frame_files

KEYS = ("micro_auc", "micro_auc_smoothed", "macro_auc", "macro_auc_smoothed", "event_recall_at_10pct",
        "candidate_event_recall", "fit_seconds", "frames_per_second")


def shrunk_copy(root: Path, size: tuple[int, int], target: Path) -> Path:
    """Ped2's frame folders with every frame area-shrunk to `size` (PNG, so nothing more is lost), and its
    ground truth beside them."""
    for split in ("training", "testing"):
        for clip in sorted((root / split / "frames").iterdir()):
            folder = target / split / "frames" / clip.name
            folder.mkdir(parents=True)
            for frame in frame_files(clip):
                image = cv2.imread(str(frame), cv2.IMREAD_GRAYSCALE)
                cv2.imwrite(str(folder / f"{frame.stem}.png"), cv2.resize(image, size, interpolation=cv2.INTER_AREA))
    shutil.copy(root / "UCSDped2.m", target / "UCSDped2.m")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser, "--root", "ucsd_ped2")
    add_results_argument(parser)
    parser.add_argument("--sizes", default="238x158,180x120", help="camera sizes WxH, comma-separated")
    parser.add_argument("--copies", type=Path, default=None, help="keep the shrunk copies in this folder")
    parser.add_argument("--tier-sets", default="default",
                        help="comma-separated: default (self-validated) or tiers joined by + (fixed, no selection)")
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in text.split("x")) for text in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for size in [None, *sizes]:
            copy = (args.copies or Path(scratch)) / f"{size[0]}x{size[1]}" if size else None
            if copy and copy.exists():
                shutil.rmtree(copy)
            root = shrunk_copy(args.root, size, copy) if size else args.root
            for tiers in args.tier_sets.split(","):
                config = ScorerConfig() if tiers == "default" else ScorerConfig(tiers=tiers.split("+"), select=False)
                result = run_detect(load_ucsd(root), config)
                chosen = (result["selection"] or {}).get("chosen")
                rows.append({"camera": "360x240 (as recorded)" if size is None else f"{size[0]}x{size[1]} (shrunk)",
                             "tiers": tiers, **{k: result[k] for k in KEYS},
                             "chosen": describe(chosen) if chosen else "–",
                             "self_validation_auc": chosen["auc"] if chosen else "–"})
                print(rows[-1], flush=True)
    lines = ["# The same site at smaller camera sizes (UCSD Ped2 shrunk)", "",
             "Each tier set (the default, self-validated; or tiers fixed, no selection) fitted on Ped2's training clips "
             "at each size and scoring its test clips at the same size (`eval detect`'s protocol: micro = pooled "
             "frames, macro = mean over clips with both classes, smoothed = Gaussian sigma 3 per clip; "
             "self-validation's AUC is on its synthetic anomalies in held-out "
             "training footage). The test labels are Ped2's, seen before: nothing is chosen on these figures.", "",
             "| camera | tiers | micro AUC | micro σ3 | macro AUC | macro σ3 | events @10 % | candidate recall | "
             "fit (s) | frames/s | self-validation chose | its AUC |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['camera']} | {r['tiers']} | " + " | ".join(str(r[k]) for k in KEYS) + f" | {r['chosen']} | "
              f"{r['self_validation_auc']} |" for r in rows]
    print(write_results("bench_resolution", {"dataset": "ucsd_ped2", "rows": rows}, "\n".join(lines),
                        args.results).read_text())


if __name__ == "__main__":
    main()
