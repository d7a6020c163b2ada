"""The scorer's GPU benchmark packed for a lent device machine, and unpacked there.

    python evals/device_kit.py pack --root ../shared/data/ucsd_ped2      # here: writes .device/
    bash .device/run.sh                                                   # there, with .device carried

A device machine reaches nothing outside itself and takes a working tree of at most 64 MiB, so what
`evals/bench_scorer.py` needs travels in `.device/` (ignored by git): UCSD Ped2 as one H.264 file per
clip (its JPEG frames are 109 MB; CRF 17, so the AUCs move a little there: the speeds are what that run
is for) with its labels, masks and `.m` file; and wheels, at this checkout's versions, of the packages
the machine's Python lacks (`MISSING`: its image holds torch, OpenCV, NumPy, SciPy, scikit-learn and
the rest). `run.sh` installs them and vadagent (no dependencies), decodes Ped2 back to JPEG frame
folders, runs the tests marked `gpu` (CI has none) and then the benchmark, with the results in `$OUT`, in one
command of a few minutes, so the device time (15 minutes a session, the start included) goes to measuring.
`bench_scorer.py --short` is the run for a device's last minutes (release 37's second run).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from vadagent.tools.video import frame_files

# what the device's Python lacks (typing-extensions: pydantic wants a newer one than an image may hold)
MISSING = ("av", "pydantic", "pydantic-core", "annotated-types", "typing-inspection", "typing-extensions")
PYTHON = "3.12"  # the device's (its torch 2.11 lives there)
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
CRF = 17
FPS = 10  # Ped2's frame rate; the files keep it, the frame folders do not need it
LIMIT_BYTES = 60 * 2**20  # what .device may take of the 64 MiB that travel, leaving room for the checkout
NOTE = ("UCSD Ped2 re-encoded as H.264 (CRF 17) to travel and decoded back to JPEG (q95) on the GPU machine, so AUCs "
        "differ a little from the original frames; every row measured in the same run on one machine.")

RUN_SH = """#!/bin/bash
# Written by evals/device_kit.py pack: install, unpack Ped2, run the scorer's GPU benchmark into $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .device/whl/*.whl
export PYTHONPATH=/tmp/site
python3 -m pip install -q --no-deps --no-build-isolation --no-cache-dir .
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python3 evals/device_kit.py unpack --out /tmp/ped2
# the GPU's own tests first (a minute): CI has no GPU, and a fit on CUDA once failed only there
python3 -m pytest -q -m gpu tests/test_scorer.py 2>&1 | tee "${OUT:-/tmp}/gpu_tests.log" || true
python3 evals/bench_scorer.py --root /tmp/ped2 --name bench_scorer_gpu --results "${OUT:-evals/results}" \\
  --note "%s" 2>&1 | tee "${OUT:-/tmp}/bench_scorer_gpu.log"
"""


def encode(folder: Path, target: Path) -> None:
    """A clip's frame folder as one H.264 file, every frame kept (gray pictures as 4:2:0). Not
    `tools.synthetic.write_video`: that one is tuned to encode the same from run to run (no lookahead, a
    keyframe every 2 s), which made Ped2 59 MiB with the wheels, too close to what travels."""
    paths = frame_files(folder)
    height, width = cv2.imread(str(paths[0]), cv2.IMREAD_GRAYSCALE).shape
    with av.open(str(target), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(FPS))
        stream.height, stream.width, stream.pix_fmt = height, width, "yuv420p"
        stream.options = {"crf": str(CRF), "preset": "veryslow"}  # smaller files: the limit is size
        for path in paths:
            gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            rgb = np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())


def decode(source: Path, folder: Path) -> int:
    """An H.264 clip back to a JPEG frame folder (000.jpg, 001.jpg, … as Ped2 names them). Gray by
    PyAV's conversion: the product's gray scan read these frames 6 gray levels off the originals on
    average (its luma as stored), where this reads under 3 (the round-trip test)."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    with av.open(str(source)) as container:
        for count, frame in enumerate(container.decode(video=0), 1):
            cv2.imwrite(str(folder / f"{count - 1:03d}.jpg"), frame.to_ndarray(format="gray"),
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
    return count


def pack(root: Path, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    data = out / "ped2"
    for split in ("training", "testing"):
        for clip in sorted(p for p in (root / split / "frames").iterdir() if p.is_dir()):
            (data / split).mkdir(parents=True, exist_ok=True)
            encode(clip, data / split / f"{clip.name}.mp4")
    for extra in ("UCSDped2.m", "test_frame_labels.npy", "test_pixel_masks_packbits.npz"):
        if (root / extra).is_file():
            shutil.copy2(root / extra, data / extra)
    wheels = out / "whl"
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in MISSING]
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", PYTHON, "--implementation", "cp", *platforms, "-d", str(wheels), *pins],
                   check=True)
    (out / "run.sh").write_text(RUN_SH % NOTE, encoding="utf-8")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{out}: {size / 2**20:.1f} MiB ({', '.join(pins)}); carry it and run: bash {out.name}/run.sh")
    if size > LIMIT_BYTES:
        raise SystemExit(f"{out} holds {size / 2**20:.1f} MiB, over the {LIMIT_BYTES / 2**20:.0f} MiB it may take")


def unpack(source: Path, out: Path) -> None:
    """Ped2's layout again (training/frames/NN, testing/frames/NN, labels, masks) from the packed clips."""
    data = source / "ped2"
    for split in ("training", "testing"):
        for clip in sorted((data / split).glob("*.mp4")):
            decode(clip, out / split / "frames" / clip.stem)
    for extra in data.iterdir():
        if extra.is_file():
            shutil.copy2(extra, out / extra.name)
    print(f"Ped2 unpacked to {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    packing = verbs.add_parser("pack", help="here: Ped2 and the wheels into --out")
    packing.add_argument("--root", type=Path, required=True, help="UCSD Ped2's folder")
    packing.add_argument("--out", type=Path, default=Path(".device"))
    unpacking = verbs.add_parser("unpack", help="there: Ped2's frame folders from the packed clips")
    unpacking.add_argument("--source", type=Path, default=Path(".device"))
    unpacking.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.verb == "pack":
        pack(args.root, args.out)
    else:
        unpack(args.source, args.out)


if __name__ == "__main__":
    main()
