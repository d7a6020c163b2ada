"""Dataset loaders that validate their folder layout and say what is missing and where to get it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from vadagent.errors import UsageError


@dataclass(frozen=True)
class LabelledVideo:
    name: str
    path: Path
    labels: np.ndarray  # int8 per frame, 1 = anomalous
    camera: str = ""  # the site it was filmed at, for datasets of several cameras
    # pixel masks (frames × height × width, bool, at the video's own size) where the dataset has them;
    # read when asked, as a dataset's masks together outgrow memory
    masks: Callable[[], np.ndarray] | None = None


@dataclass(frozen=True)
class FrameDataset:
    name: str
    fps: float
    train: list[Path]  # normal footage; empty: each test video is fitted on its own opening (as `explain` does)
    test: list[LabelledVideo]
    train_cameras: list[str] = field(default_factory=list)  # the camera of each training video; empty: one site

    def normal_footage(self) -> dict[str, list[Path]]:
        """Training videos by camera: a scorer learns one site's normal footage, so a dataset of
        several cameras is fitted camera by camera, as a user would fit each of theirs."""
        by_camera: dict[str, list[Path]] = {}
        for camera, path in zip(self.train_cameras or [""] * len(self.train), self.train):
            by_camera.setdefault(camera, []).append(path)
        return by_camera


def _require(path: Path, what: str, source: str) -> Path:
    if not path.exists():
        raise UsageError(f"{path}: missing {what}. {source}")
    return path


UCSD_SOURCE = "Get the UCSD Anomaly Detection Dataset from its official page (Mahadevan et al., CVPR 2010)."
AVENUE_SOURCE = ("Get CUHK Avenue from its official page (Lu et al., ICCV 2013): training_videos/NN.avi, "
                 "testing_videos/NN.avi and ground_truth_demo/testing_label_mask/N_label.mat as distributed; or "
                 "frames in {training,testing}/frames/NN/ with test_frame_labels.npy (flattened over test clips) or "
                 "avenue.mat (gt: [first; last] frame ranges per clip, 1-based).")
SHANGHAITECH_SOURCE = ("Get ShanghaiTech Campus from its official page (Luo et al., ICCV 2017): training/videos/*.avi "
                       "(or their frames in training/frames/NN_NNN/), testing/frames/NN_NNNN/, "
                       "testing/test_frame_mask/NN_NNNN.npy.")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"}


def _frame_count(folder: Path) -> int:
    return sum(1 for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)


def _clip_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir())


def load_ucsd(root: str | Path, name: str = "ucsd_ped2") -> FrameDataset:
    """UCSD Ped1 / Ped2 in the frame-folder layout: training/frames/NN, testing/frames/NN, UCSDpedN.m."""
    root = Path(root)
    _require(root, "dataset folder", UCSD_SOURCE)
    train_dir = _require(root / "training" / "frames", "training/frames/ (one folder per clip)", UCSD_SOURCE)
    test_dir = _require(root / "testing" / "frames", "testing/frames/ (one folder per clip)", UCSD_SOURCE)
    gt = _require(root / f"UCSDped{name[-1]}.m", f"UCSDped{name[-1]}.m (frame-level ground truth)", UCSD_SOURCE)
    test = _clip_folders(test_dir)
    ranges = re.findall(r"gt_frame\s*=\s*\[([^\]]*)\]", gt.read_text(encoding="utf-8", errors="replace"))
    if len(ranges) != len(test):
        raise UsageError(f"{gt}: {len(ranges)} ground-truth lines for {len(test)} test clips in {test_dir}")
    # pixel masks, where present: one array per clip (TestNNN) packed along the width (np.packbits)
    packed = root / "test_pixel_masks_packbits.npz"
    videos = []
    for clip, spec in zip(test, ranges):
        labels = np.zeros(_frame_count(clip), dtype=np.int8)
        for first, last in re.findall(r"(\d+)\s*:\s*(\d+)", spec):  # 1-based, inclusive
            labels[int(first) - 1 : int(last)] = 1
        number = re.findall(r"\d+", clip.name)
        masks = (partial(_packed_masks, packed, f"Test{int(number[-1]):03d}", clip)
                 if packed.is_file() and number else None)
        videos.append(LabelledVideo(clip.name, clip, labels, masks=masks))
    return FrameDataset(name, 10.0, _clip_folders(train_dir), videos)


def _packed_masks(path: Path, key: str, clip: Path) -> np.ndarray:
    import cv2

    with np.load(path) as table:
        if key not in table.files:
            raise UsageError(f"{path}: no pixel masks for {clip.name} (key {key})")
        packed = table[key]
    first = next(f for f in sorted(clip.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES)
    width = cv2.imread(str(first), cv2.IMREAD_GRAYSCALE).shape[1]
    return np.unpackbits(packed, axis=-1)[..., :width].astype(bool)


def load_avenue(root: str | Path) -> FrameDataset:
    """CUHK Avenue as distributed (videos and per-frame masks in .mat files) or as frame folders."""
    root = Path(root)
    _require(root, "dataset folder", AVENUE_SOURCE)
    if (root / "testing_videos").is_dir():
        return _avenue_videos(root)
    train_dir = _require(root / "training" / "frames", "training/frames/ (or testing_videos/)", AVENUE_SOURCE)
    test_dir = _require(root / "testing" / "frames", "testing/frames/", AVENUE_SOURCE)
    test = _clip_folders(test_dir)
    counts = [_frame_count(c) for c in test]
    if (root / "avenue.mat").is_file():
        ranges = _mat(root / "avenue.mat", "gt").ravel()
        if len(ranges) != len(test):
            raise UsageError(f"{root / 'avenue.mat'}: {len(ranges)} ground-truth entries for {len(test)} test clips")
        labels = []
        for count, spans in zip(counts, ranges):
            frame = np.zeros(count, dtype=np.int8)
            for first, last in np.asarray(spans, dtype=np.int64).reshape(2, -1).T:  # 1-based, inclusive
                frame[first - 1 : last] = 1
            labels.append(frame)
    else:
        flat = np.load(_require(root / "test_frame_labels.npy", "test_frame_labels.npy or avenue.mat",
                                AVENUE_SOURCE)).ravel()
        if sum(counts) != len(flat):
            raise UsageError(f"{root}: {len(flat)} frame labels for {sum(counts)} test frames")
        labels = np.split(flat.astype(np.int8), np.cumsum(counts)[:-1])
    return FrameDataset("avenue", 25.0, _clip_folders(train_dir),
                        [LabelledVideo(c.name, c, y) for c, y in zip(test, labels)])


def _avenue_videos(root: Path) -> FrameDataset:
    masks = next((d for d in (root / "testing_label_mask", root / "ground_truth_demo" / "testing_label_mask")
                  if d.is_dir()), None)
    if masks is None:
        raise UsageError(f"{root}: missing testing_label_mask/ (or ground_truth_demo/testing_label_mask/). "
                         f"{AVENUE_SOURCE}")
    train = sorted(_require(root / "training_videos", "training_videos/", AVENUE_SOURCE).glob("*.avi"))
    videos = []
    for video in sorted((root / "testing_videos").glob("*.avi")):
        # volLabel: one pixel mask per frame; a frame is anomalous where its mask marks anything
        path = _require(masks / f"{int(video.stem)}_label.mat", f"the masks of {video.name}", AVENUE_SOURCE)
        volume = _mat(path, "volLabel").ravel()
        videos.append(LabelledVideo(video.stem, video, np.asarray([np.any(m) for m in volume], np.int8),
                                    masks=partial(_avenue_masks, path)))
    return FrameDataset("avenue", 25.0, train, videos)


def _avenue_masks(path: Path) -> np.ndarray:
    return np.stack([np.asarray(m, bool) for m in _mat(path, "volLabel").ravel()])


def _mat(path: Path, name: str) -> np.ndarray:
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        return loadmat(str(path), variable_names=[name])[name]
    except (KeyError, ValueError, OSError, MatReadError) as error:
        raise UsageError(f"{path}: cannot read the MATLAB variable {name!r} ({error})") from None


def load_shanghaitech(root: str | Path) -> FrameDataset:
    """ShanghaiTech Campus as distributed (training videos), or with the training videos' frames
    extracted to folders as many published set-ups keep them."""
    root = Path(root)
    _require(root, "dataset folder", SHANGHAITECH_SOURCE)
    videos, frames = root / "training" / "videos", root / "training" / "frames"
    if videos.is_dir():
        train = sorted(videos.glob("*.avi"))
    else:
        train = _clip_folders(_require(frames, "training/videos/ (or training/frames/)", SHANGHAITECH_SOURCE))
    if not train:
        raise UsageError(f"{videos if videos.is_dir() else frames}: no training videos. {SHANGHAITECH_SOURCE}")
    test_dir = _require(root / "testing" / "frames", "testing/frames/", SHANGHAITECH_SOURCE)
    masks = _require(root / "testing" / "test_frame_mask", "testing/test_frame_mask/", SHANGHAITECH_SOURCE)
    pixels = root / "testing" / "test_pixel_mask"  # optional: one (frames, height, width) array per clip
    videos = []
    for clip in _clip_folders(test_dir):
        labels = np.load(_require(masks / f"{clip.name}.npy", f"frame mask of {clip.name}", SHANGHAITECH_SOURCE))
        pixel = pixels / f"{clip.name}.npy"
        videos.append(LabelledVideo(clip.name, clip, labels.astype(np.int8).ravel(), camera=_camera(clip.name),
                                    masks=partial(_npy_masks, pixel) if pixel.is_file() else None))
    # 13 cameras: the prefix of every name (training 01_001.avi, testing 01_0014) is the camera
    return FrameDataset("shanghaitech", 24.0, train, videos, [_camera(p.stem) for p in train])


def _npy_masks(path: Path) -> np.ndarray:
    return np.load(path, allow_pickle=False) > 0


def _camera(name: str) -> str:
    return name.split("_", 1)[0]


UCF_SOURCE = ("Get UCF-Crime test videos from the official page (Sultani et al., CVPR 2018): videos/NAME_x264.mp4 "
              "and labels.json ({name: {frames, segments: [[first, last], ...]}}, 1-based inclusive).")


def load_ucf_crime_sample(root: str | Path) -> FrameDataset:
    """UCF-Crime test videos with their official temporal segments, and no normal footage."""
    import json

    root = Path(root)
    videos_dir = _require(root / "videos", "videos/", UCF_SOURCE)
    try:
        table = json.loads(_require(root / "labels.json", "labels.json", UCF_SOURCE).read_text(encoding="utf-8"))
    except ValueError as error:
        raise UsageError(f"{root / 'labels.json'}: not valid JSON ({error})") from None
    videos = []
    for name, entry in sorted(table.items()):
        labels = np.zeros(int(entry["frames"]), dtype=np.int8)
        for first, last in entry.get("segments", []):
            labels[int(first) - 1 : int(last)] = 1
        videos.append(LabelledVideo(Path(name).stem, _require(videos_dir / name, name, UCF_SOURCE), labels))
    return FrameDataset("ucf_crime_sample", 30.0, [], videos)


FRAME_DATASETS = {
    "ucsd_ped1": lambda root: load_ucsd(root, "ucsd_ped1"),
    "ucsd_ped2": lambda root: load_ucsd(root, "ucsd_ped2"),
    "avenue": load_avenue,
    "shanghaitech": load_shanghaitech,
    "ucf_crime_sample": load_ucf_crime_sample,
}


def load_frame_dataset(name: str, root: str | Path) -> FrameDataset:
    if name not in FRAME_DATASETS:
        raise UsageError(f"unknown detection dataset {name!r}; supported: {', '.join(FRAME_DATASETS)}")
    return FRAME_DATASETS[name](root)


def load_ucsd_ped2(root: str | Path) -> FrameDataset:
    return load_ucsd(root, "ucsd_ped2")
