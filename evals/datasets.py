"""Dataset loaders that validate their folder layout and say what is missing and where to get it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from vadagent.errors import UsageError
from vadagent.tools.video import frame_files


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


UCSD_SOURCE = ("Get the UCSD Anomaly Detection Dataset from its official page (Mahadevan et al., CVPR 2010): "
               "UCSDpedN/Train/TrainNNN/, UCSDpedN/Test/TestNNN/ (pixel masks in TestNNN_gt/) and "
               "UCSDpedN/Test/UCSDpedN.m as distributed; or frames in {training,testing}/frames/NN/ with UCSDpedN.m.")
AVENUE_SOURCE = ("Get CUHK Avenue from its official page (Lu et al., ICCV 2013): training_videos/NN.avi, "
                 "testing_videos/NN.avi and ground_truth_demo/testing_label_mask/N_label.mat as distributed; or "
                 "frames in {training,testing}/frames/NN/ with test_frame_labels.npy (flattened over test clips) or "
                 "avenue.mat (gt: [first; last] frame ranges per clip, 1-based).")
SHANGHAITECH_SOURCE = ("Get ShanghaiTech Campus from its official page (Luo et al., ICCV 2017): training/videos/*.avi "
                       "(or their frames in training/frames/NN_NNN/), testing/frames/NN_NNNN/, "
                       "testing/test_frame_mask/NN_NNNN.npy.")
def _frame_count(folder: Path) -> int:
    return len(frame_files(folder))


def _clip_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def load_ucsd(root: str | Path, name: str = "ucsd_ped2") -> FrameDataset:
    """UCSD Ped1 / Ped2 as distributed (UCSDpedN/Train, UCSDpedN/Test; the folder above it will do) or
    in the frame-folder layout (training/frames/NN, testing/frames/NN, UCSDpedN.m)."""
    root, ped = Path(root), f"UCSDped{name[-1]}"
    _require(root, "dataset folder", UCSD_SOURCE)
    if (root / ped).is_dir() and not (root / "training").is_dir():  # UCSD_Anomaly_Dataset.v1p2/ given
        root = root / ped
    if (root / "Test").is_dir():
        return _ucsd_as_distributed(root, name, ped)
    train_dir = _require(root / "training" / "frames", "training/frames/ (one folder per clip) or Train/", UCSD_SOURCE)
    test_dir = _require(root / "testing" / "frames", "testing/frames/ (one folder per clip)", UCSD_SOURCE)
    gt = _require(root / f"{ped}.m", f"{ped}.m (frame-level ground truth)", UCSD_SOURCE)
    test = _clip_folders(test_dir)
    # pixel masks, where present: one array per clip (TestNNN) packed along the width (np.packbits)
    packed = root / "test_pixel_masks_packbits.npz"
    videos = []
    for clip, labels in zip(test, _ucsd_labels(gt, test_dir, test)):
        number = re.findall(r"\d+", clip.name)
        masks = (partial(_packed_masks, packed, f"Test{int(number[-1]):03d}", clip)
                 if packed.is_file() and number else None)
        videos.append(LabelledVideo(clip.name, clip, labels, masks=masks))
    return FrameDataset(name, 10.0, _clip_folders(train_dir), videos)


def _ucsd_as_distributed(root: Path, name: str, ped: str) -> FrameDataset:
    """The official archive's layout: Train/TrainNNN/*.tif, Test/TestNNN/*.tif, pixel masks in
    Test/TestNNN_gt/*.bmp where the clip has them (every Ped2 clip, 10 of Ped1's), Test/UCSDpedN.m."""
    train_dir = _require(root / "Train", "Train/ (one folder per clip)", UCSD_SOURCE)
    test_dir = root / "Test"
    gt = next((p for p in (test_dir / f"{ped}.m", root / f"{ped}.m") if p.is_file()), None)
    gt = _require(gt or test_dir / f"{ped}.m", f"{ped}.m (frame-level ground truth)", UCSD_SOURCE)
    test = [clip for clip in _clip_folders(test_dir) if not clip.name.endswith("_gt")]
    videos = []
    for clip, labels in zip(test, _ucsd_labels(gt, test_dir, test)):
        truth = clip.with_name(f"{clip.name}_gt")
        masks = partial(_image_masks, truth) if truth.is_dir() and frame_files(truth) else None
        videos.append(LabelledVideo(clip.name, clip, labels, masks=masks))
    return FrameDataset(name, 10.0, _clip_folders(train_dir), videos)


def _ucsd_labels(gt: Path, folder: Path, test: list[Path]) -> list[np.ndarray]:
    """Frame labels of the test clips, in order, from UCSDpedN.m: one `gt_frame = [a:b, …]` per clip,
    1-based and inclusive."""
    ranges = re.findall(r"gt_frame\s*=\s*\[([^\]]*)\]", gt.read_text(encoding="utf-8", errors="replace"))
    if len(ranges) != len(test):
        raise UsageError(f"{gt}: {len(ranges)} ground-truth lines for {len(test)} test clips in {folder}")
    labelled = []
    for clip, spec in zip(test, ranges):
        labels = np.zeros(_frame_count(clip), dtype=np.int8)
        for first, last in re.findall(r"(\d+)\s*:\s*(\d+)", spec):
            labels[int(first) - 1 : int(last)] = 1
        labelled.append(labels)
    return labelled


def _packed_masks(path: Path, key: str, clip: Path) -> np.ndarray:
    import cv2

    with np.load(path) as table:
        if key not in table.files:
            raise UsageError(f"{path}: no pixel masks for {clip.name} (key {key})")
        packed = table[key]
    width = cv2.imread(str(frame_files(clip)[0]), cv2.IMREAD_GRAYSCALE).shape[1]
    return np.unpackbits(packed, axis=-1)[..., :width].astype(bool)


def _image_masks(folder: Path) -> np.ndarray:
    """One mask image per frame (any pixel above 0 is anomalous), in the frames' order."""
    import cv2

    masks = []
    for path in frame_files(folder):
        mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            raise UsageError(f"{path}: cannot read this pixel mask")
        masks.append(mask > 0)
    return np.stack(masks)


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
        if labels.size != _frame_count(clip):
            raise UsageError(f"{masks / f'{clip.name}.npy'}: {labels.size} frame labels for {_frame_count(clip)} "
                             f"frames in {clip}")
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


# each detection dataset's loader, and where the data comes from in the layouts it reads (`vadagent eval list`)
FRAME_DATASETS: dict[str, tuple[Callable[[str | Path], FrameDataset], str]] = {
    "ucsd_ped1": (partial(load_ucsd, name="ucsd_ped1"), UCSD_SOURCE),
    "ucsd_ped2": (partial(load_ucsd, name="ucsd_ped2"), UCSD_SOURCE),
    "avenue": (load_avenue, AVENUE_SOURCE),
    "shanghaitech": (load_shanghaitech, SHANGHAITECH_SOURCE),
    "ucf_crime_sample": (load_ucf_crime_sample, UCF_SOURCE),
}


def load_frame_dataset(name: str, root: str | Path) -> FrameDataset:
    if name not in FRAME_DATASETS:
        raise UsageError(f"unknown detection dataset {name!r}; supported: {', '.join(FRAME_DATASETS)}")
    return FRAME_DATASETS[name][0](root)


def load_ucsd_ped2(root: str | Path) -> FrameDataset:
    return load_ucsd(root, "ucsd_ped2")
