"""Dataset loaders that validate their folder layout and say what is missing and where to get it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vadagent.errors import UsageError


@dataclass(frozen=True)
class LabelledVideo:
    name: str
    path: Path
    labels: np.ndarray  # int8 per frame, 1 = anomalous


@dataclass(frozen=True)
class FrameDataset:
    name: str
    fps: float
    train: list[Path]  # normal footage
    test: list[LabelledVideo]


def _require(path: Path, what: str, source: str) -> Path:
    if not path.exists():
        raise UsageError(f"{path}: missing {what}. {source}")
    return path


UCSD_SOURCE = "Get UCSD Ped2 from its official page (UCSD Anomaly Detection Dataset, Mahadevan et al., CVPR 2010)."


def load_ucsd_ped2(root: str | Path) -> FrameDataset:
    """UCSD Ped2 in the frame-folder layout: training/frames/NN, testing/frames/NN, UCSDped2.m."""
    root = Path(root)
    _require(root, "dataset folder", UCSD_SOURCE)
    train_dir = _require(root / "training" / "frames", "training/frames/ (16 clip folders)", UCSD_SOURCE)
    test_dir = _require(root / "testing" / "frames", "testing/frames/ (12 clip folders)", UCSD_SOURCE)
    gt = _require(root / "UCSDped2.m", "UCSDped2.m (frame-level ground truth)", UCSD_SOURCE)
    train = sorted(p for p in train_dir.iterdir() if p.is_dir())
    test = sorted(p for p in test_dir.iterdir() if p.is_dir())
    ranges = re.findall(r"gt_frame\s*=\s*\[([^\]]*)\]", gt.read_text(encoding="utf-8", errors="replace"))
    if len(ranges) != len(test):
        raise UsageError(f"{gt}: {len(ranges)} ground-truth lines for {len(test)} test clips in {test_dir}")
    videos = []
    for clip, spec in zip(test, ranges):
        count = sum(1 for f in clip.iterdir() if f.suffix.lower() in {".jpg", ".png", ".tif", ".bmp"})
        labels = np.zeros(count, dtype=np.int8)
        for first, last in re.findall(r"(\d+)\s*:\s*(\d+)", spec):  # 1-based, inclusive
            labels[int(first) - 1 : int(last)] = 1
        videos.append(LabelledVideo(clip.name, clip, labels))
    return FrameDataset("ucsd_ped2", 10.0, train, videos)


FRAME_DATASETS = {"ucsd_ped2": load_ucsd_ped2}


def load_frame_dataset(name: str, root: str | Path) -> FrameDataset:
    if name not in FRAME_DATASETS:
        raise UsageError(f"unknown detection dataset {name!r}; supported: {', '.join(FRAME_DATASETS)}")
    return FRAME_DATASETS[name](root)
