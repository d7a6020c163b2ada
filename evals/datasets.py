"""Dataset loaders that validate their folder layout and say what is missing and where to get it."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np

from vadagent.errors import UsageError
from vadagent.tools.video import frame_files

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelledVideo:
    name: str
    path: Path
    labels: np.ndarray  # int8 per frame, 1 = anomalous
    camera: str = ""  # the site it was filmed at, for datasets of several cameras
    # pixel masks (frames × height × width, bool, at the video's own size) where the dataset has them;
    # read when asked, as a dataset's masks together outgrow memory
    masks: Callable[[], np.ndarray] | None = None
    # a temporal annotation's anomalous frame ranges (1-based, inclusive), where the labels come from one: they
    # are then sized to the frames decoded (`sized`), as a container's frame count may be a frame or two off
    segments: tuple[tuple[int, int], ...] | None = None

    def on_clock(self, shown: np.ndarray, recorded: int) -> LabelledVideo:
        """This video's labels of its `recorded` frames as a recording whose frames come at uneven times is read, on
        a regular clock (tools/video/regular.py): each of the clock's frames labelled as the recording's it shows."""
        labels = segment_labels(self.segments, recorded) if self.segments is not None else self.labels
        if len(labels) != recorded:
            raise UsageError(f"{self.path}: {len(labels)} frames labelled, {recorded} recorded")
        return replace(self, labels=labels[shown], segments=None)

    def sized(self, frames: int) -> LabelledVideo:
        """This video with its labels for `frames` decoded frames, where they come from segments."""
        if self.segments is None or frames == len(self.labels):
            return self
        return replace(self, labels=segment_labels(self.segments, frames))


def segment_labels(segments: Iterable[tuple[int, int]], frames: int) -> np.ndarray:
    """0/1 per frame of a video of `frames` frames from its anomalous ranges (1-based, inclusive)."""
    labels = np.zeros(frames, dtype=np.int8)
    for first, last in segments:
        labels[first - 1 : last] = 1
    return labels


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
               "UCSDpedN/Test/UCSDpedN.m as distributed; or frames in {training,testing}/frames/NN/ with UCSDpedN.m, "
               "pedN.mat (gt: [first; last] frame ranges per clip) or frame_labels_pedN.npy (0/1 per frame).")
AVENUE_SOURCE = ("Get CUHK Avenue from its official page (Lu et al., ICCV 2013): training_videos/NN.avi, "
                 "testing_videos/NN.avi and ground_truth_demo/testing_label_mask/N_label.mat as distributed; or "
                 "frames in {training,testing}/frames/NN/ with avenue.mat (gt: [first; last] frame ranges per clip, "
                 "1-based) or test_frame_labels.npy / frame_labels_avenue.npy (0/1 per frame over the test clips).")
SHANGHAITECH_SOURCE = ("Get ShanghaiTech Campus from its official page (Luo et al., ICCV 2017): training/videos/*.avi "
                       "(or their frames in training/frames/NN_NNN/), testing/frames/NN_NNNN/, "
                       "testing/test_frame_mask/NN_NNNN.npy (or one frame_labels_shanghai.npy over all test clips).")


def _frame_count(folder: Path) -> int:
    return len(frame_files(folder))


def _clip_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _avi_files(folder: Path) -> list[Path]:
    """A folder's .avi videos, without a Mac archive's `._01.avi` of metadata beside each."""
    return sorted(p for p in folder.glob("*.avi") if not p.name.startswith("."))


def load_ucsd(root: str | Path, name: str = "ucsd_ped2", labels: Path | None = None) -> FrameDataset:
    """UCSD Ped1 / Ped2 as distributed (UCSDpedN/Train, UCSDpedN/Test; the folder above it will do) or
    in the frame-folder layout (training/frames/NN, testing/frames/NN, UCSDpedN.m or the other ground-truth
    files of `ground_truth`). `labels`: the test frames' labels in a file of one of those forms, elsewhere."""
    root, ped = Path(root), f"UCSDped{name[-1]}"
    _require(root, "dataset folder", UCSD_SOURCE)
    if (root / ped).is_dir() and not (root / "training").is_dir():  # UCSD_Anomaly_Dataset.v1p2/ given
        root = root / ped
    if (root / "Test").is_dir():
        return _ucsd_as_distributed(root, name, ped, labels)
    train_dir = _require(root / "training" / "frames", "training/frames/ (one folder per clip) or Train/", UCSD_SOURCE)
    test_dir = _require(root / "testing" / "frames", "testing/frames/ (one folder per clip)", UCSD_SOURCE)
    gt = labels or ground_truth(root, [f"{ped}.m", "test_frame_labels.npy"], [f"ped{name[-1]}.mat",
                                                                            f"frame_labels_ped{name[-1]}.npy"], UCSD_SOURCE)
    test = _clip_folders(test_dir)
    # pixel masks, where present: one array per clip (TestNNN) packed along the width (np.packbits)
    packed = root / "test_pixel_masks_packbits.npz"
    videos = []
    for clip, frames in zip(test, frame_labels(gt, test)):
        number = re.findall(r"\d+", clip.name)
        masks = (partial(_packed_masks, packed, f"Test{int(number[-1]):03d}", clip)
                 if packed.is_file() and number else None)
        videos.append(LabelledVideo(clip.name, clip, frames, masks=masks))
    return FrameDataset(name, 10.0, _clip_folders(train_dir), videos)


def _ucsd_as_distributed(root: Path, name: str, ped: str, labels: Path | None) -> FrameDataset:
    """The official archive's layout: Train/TrainNNN/*.tif, Test/TestNNN/*.tif, pixel masks in
    Test/TestNNN_gt/*.bmp where the clip has them (every Ped2 clip, 10 of Ped1's), Test/UCSDpedN.m."""
    train_dir = _require(root / "Train", "Train/ (one folder per clip)", UCSD_SOURCE)
    test_dir = root / "Test"
    gt = labels or ground_truth(test_dir, [], [f"{ped}.m"], UCSD_SOURCE)  # in Test/ or beside it
    test = [clip for clip in _clip_folders(test_dir) if not clip.name.endswith("_gt")]
    videos = []
    for clip, frames in zip(test, frame_labels(gt, test)):
        truth = clip.with_name(f"{clip.name}_gt")
        masks = partial(_image_masks, truth) if truth.is_dir() and frame_files(truth) else None
        videos.append(LabelledVideo(clip.name, clip, frames, masks=masks))
    return FrameDataset(name, 10.0, _clip_folders(train_dir), videos)


def ground_truth(root: Path, names: list[str], beside: list[str], source: str) -> Path:
    """The first of a dataset's ground-truth files that exists: `names` in its folder, `beside` in its
    folder or the one above it (where the data of Future Frame Prediction and of MNAD keep theirs:
    Data/ped2.mat beside Data/ped2/, data/frame_labels_ped2.npy)."""
    places = [root / n for n in names + beside] + [root.parent / n for n in beside]
    found = next((p for p in places if p.is_file()), None)
    if found is None:
        raise UsageError(f"{root}: no frame-level ground truth (looked for {', '.join(names + beside)}; give its "
                         f"file with --labels). {source}")
    return found


def frame_labels(path: Path, test: list[Path]) -> list[np.ndarray]:
    """The test clips' frame labels, in order, from a ground-truth file: UCSD's UCSDpedN.m (a line
    `gt_frame = [a:b, …]` per clip), a .mat whose `gt` holds each clip's [first; last] frame ranges (the
    ped2.mat and avenue.mat of Future Frame Prediction's data), both 1-based and inclusive, or a .npy of 0/1
    per frame over all the test clips in order (MNAD's frame_labels_ped2.npy)."""
    path = _require(Path(path), "ground-truth file", "Give a .m, .mat or .npy of frame labels.")
    counts = [_frame_count(clip) for clip in test]
    suffix = path.suffix.lower()
    if suffix == ".npy":
        flat = _npy(path).ravel()
        if len(flat) != sum(counts):
            raise UsageError(f"{path}: {len(flat)} frame labels for {sum(counts)} frames in {len(test)} test clips")
        return np.split((flat > 0).astype(np.int8), np.cumsum(counts)[:-1])
    if suffix == ".m":
        text = path.read_text(encoding="utf-8", errors="replace")
        spans = [[(int(a), int(b)) for a, b in re.findall(r"(\d+)\s*:\s*(\d+)", spec)]
                 for spec in re.findall(r"gt_frame\s*=\s*\[([^\]]*)\]", text)]
    elif suffix == ".mat":
        spans = [np.asarray(ranges, dtype=np.int64).reshape(2, -1).T.tolist() for ranges in _mat(path, "gt").ravel()]
    else:
        raise UsageError(f"{path}: frame labels are read from a .m, .mat or .npy file")
    if len(spans) != len(test):
        spans = _by_number(path, spans, test)
    labelled = []
    for clip, count, ranges in zip(test, counts, spans):
        labels = np.zeros(count, dtype=np.int8)
        for first, last in ranges:
            if not 1 <= first <= last <= count:  # another clip's ranges: the clips and the file disagree
                raise UsageError(f"{path}: frames {first}–{last} for {clip.name}, which has {count}")
            labels[first - 1 : last] = 1
        labelled.append(labels)
    return labelled


def _by_number(path: Path, spans: list, test: list[Path]) -> list:
    """The entries of a ground-truth file for some of its clips: a subset of the test clips (03/, 07/, or
    Test003/, …) takes the entries its folders' numbers name, as a user trying a few clips keeps the
    dataset's one file."""
    numbers = [int(m.group()) if (m := re.search(r"\d+$", clip.name)) else 0 for clip in test]
    if len(spans) < len(test):
        raise UsageError(f"{path}: {len(spans)} ground-truth entries for {len(test)} test clips")
    if not all(1 <= n <= len(spans) for n in numbers) or len(set(numbers)) < len(numbers):
        raise UsageError(f"{path}: {len(spans)} ground-truth entries for {len(test)} test clips (fewer clips take the "
                         "entries their folders' numbers name, 01 the first: these folders' names do not)")
    log.warning("%s holds %d clips' frame labels; the %d test clips here take those of their numbers (%s)", path.name,
                len(spans), len(test), ", ".join(map(str, numbers)))
    return [spans[n - 1] for n in numbers]


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


def load_avenue(root: str | Path, labels: Path | None = None) -> FrameDataset:
    """CUHK Avenue as distributed (videos and per-frame masks in .mat files) or as frame folders."""
    root = Path(root)
    _require(root, "dataset folder", AVENUE_SOURCE)
    if (root / "testing_videos").is_dir():
        if labels:
            raise UsageError("--labels is for frame folders: Avenue's videos take their labels from their masks")
        return _avenue_videos(root)
    train_dir = _require(root / "training" / "frames", "training/frames/ (or testing_videos/)", AVENUE_SOURCE)
    test_dir = _require(root / "testing" / "frames", "testing/frames/", AVENUE_SOURCE)
    test = _clip_folders(test_dir)
    gt = labels or ground_truth(root, ["avenue.mat", "test_frame_labels.npy"], ["avenue.mat", "frame_labels_avenue.npy"],
                                AVENUE_SOURCE)
    return FrameDataset("avenue", 25.0, _clip_folders(train_dir),
                        [LabelledVideo(c.name, c, y) for c, y in zip(test, frame_labels(gt, test))])


def _avenue_videos(root: Path) -> FrameDataset:
    masks = next((d for d in (root / "testing_label_mask", root / "ground_truth_demo" / "testing_label_mask")
                  if d.is_dir()), None)
    if masks is None:
        raise UsageError(f"{root}: missing testing_label_mask/ (or ground_truth_demo/testing_label_mask/). "
                         f"{AVENUE_SOURCE}")
    train = _avi_files(_require(root / "training_videos", "training_videos/", AVENUE_SOURCE))
    videos = []
    for video in _avi_files(root / "testing_videos"):
        # volLabel: one pixel mask per frame; a frame is anomalous where its mask marks anything
        path = _require(masks / f"{int(video.stem)}_label.mat", f"the masks of {video.name}", AVENUE_SOURCE)
        volume = _mat(path, "volLabel").ravel()
        videos.append(LabelledVideo(video.stem, video, np.asarray([np.any(m) for m in volume], np.int8),
                                    masks=partial(_avenue_masks, path)))
    return FrameDataset("avenue", 25.0, train, videos)


def _avenue_masks(path: Path) -> np.ndarray:
    return np.stack([np.asarray(m, bool) for m in _mat(path, "volLabel").ravel()])


def _npy(path: Path) -> np.ndarray:
    """A NumPy array file, never a pickle (a labels file is data a user hands over)."""
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise UsageError(f"{path}: not a NumPy array of labels ({error})") from None


def _mat(path: Path, name: str) -> np.ndarray:
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        return loadmat(str(path), variable_names=[name])[name]
    except (KeyError, ValueError, OSError, MatReadError) as error:
        raise UsageError(f"{path}: cannot read the MATLAB variable {name!r} ({error})") from None


def load_shanghaitech(root: str | Path, labels: Path | None = None) -> FrameDataset:
    """ShanghaiTech Campus as distributed (training videos), or with the training videos' frames
    extracted to folders as many published set-ups keep them; the test labels from the per-clip frame
    masks, or from one file over all the test clips (`frame_labels`)."""
    root = Path(root)
    _require(root, "dataset folder", SHANGHAITECH_SOURCE)
    videos, frames = root / "training" / "videos", root / "training" / "frames"
    if videos.is_dir():
        train = _avi_files(videos)
    else:
        train = _clip_folders(_require(frames, "training/videos/ (or training/frames/)", SHANGHAITECH_SOURCE))
    if not train:
        raise UsageError(f"{videos if videos.is_dir() else frames}: no training videos. {SHANGHAITECH_SOURCE}")
    test = _clip_folders(_require(root / "testing" / "frames", "testing/frames/", SHANGHAITECH_SOURCE))
    masks = root / "testing" / "test_frame_mask"
    if labels or not masks.is_dir():
        gt = labels or ground_truth(root, ["test_frame_labels.npy"], ["frame_labels_shanghai.npy"], SHANGHAITECH_SOURCE)
        per_clip = frame_labels(gt, test)
    else:
        per_clip = [_frame_mask(masks / f"{clip.name}.npy", clip) for clip in test]
    pixels = root / "testing" / "test_pixel_mask"  # optional: one (frames, height, width) array per clip
    videos = [LabelledVideo(clip.name, clip, y, camera=_camera(clip.name),
                            masks=partial(_npy_masks, pixels / f"{clip.name}.npy")
                            if (pixels / f"{clip.name}.npy").is_file() else None)
              for clip, y in zip(test, per_clip)]
    # 13 cameras: the prefix of every name (training 01_001.avi, testing 01_0014) is the camera
    return FrameDataset("shanghaitech", 24.0, train, videos, [_camera(p.stem) for p in train])


def _frame_mask(path: Path, clip: Path) -> np.ndarray:
    """A ShanghaiTech test clip's labels (testing/test_frame_mask/NAME.npy), checked against its frames."""
    labels = _npy(_require(path, f"frame mask of {clip.name}", SHANGHAITECH_SOURCE)).ravel()
    if labels.size != _frame_count(clip):
        raise UsageError(f"{path}: {labels.size} frame labels for {_frame_count(clip)} frames in {clip}")
    return (labels > 0).astype(np.int8)


def _npy_masks(path: Path) -> np.ndarray:
    return _npy(path) > 0


def _camera(name: str) -> str:
    return name.split("_", 1)[0]


UCF_SOURCE = ("Get UCF-Crime test videos from the official page (Sultani et al., CVPR 2018): videos/NAME_x264.mp4 "
              "and labels.json ({name: {frames, segments: [[first, last], ...]}}, 1-based inclusive).")


def load_ucf_crime_sample(root: str | Path, labels: Path | None = None) -> FrameDataset:
    """UCF-Crime test videos with their official temporal segments, and no normal footage. `labels`: a
    labels.json kept elsewhere."""
    import json

    root = Path(root)
    videos_dir = _require(root / "videos", "videos/", UCF_SOURCE)
    table_path = _require(labels or root / "labels.json", "labels.json", UCF_SOURCE)
    try:
        table = json.loads(table_path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise UsageError(f"{table_path}: not valid JSON ({error})") from None
    videos = []
    for name, entry in sorted(table.items()):
        labels = segment_labels([(int(a), int(b)) for a, b in entry.get("segments", [])], int(entry["frames"]))
        videos.append(LabelledVideo(Path(name).stem, _require(videos_dir / name, name, UCF_SOURCE), labels))
    return FrameDataset("ucf_crime_sample", 30.0, [], videos)


UCF_CRIME_SOURCE = ("Get the UCF-Crime test videos and Temporal_Anomaly_Annotation_for_Testing_Videos.txt from the "
                    "official page (Sultani et al., CVPR 2018): the videos anywhere under the folder "
                    "(Anomaly-Videos-Part-N/CLASS/, Testing_Normal_Videos_Anomaly/), the annotation in it or named "
                    "with --labels.")
UCF_CRIME_ANNOTATIONS = ("Temporal_Anomaly_Annotation_for_Testing_Videos.txt", "Temporal_Anomaly_Annotation.txt")


def load_ucf_crime(root: str | Path, labels: Path | None = None) -> FrameDataset:
    """The UCF-Crime test set as distributed, with its official temporal annotation (`NAME CLASS s1 e1 s2 e2`,
    frames, -1 where there is none), and no normal footage: each video is fitted on its opening, as `explain`
    is without --normal. Every annotated video must be under `root` (the protocol is the whole test set)."""
    from vadagent.evals.annotations import load_ucf_crime_temporal
    from vadagent.tools.video import VIDEO_SUFFIXES, open_video

    root = _require(Path(root), "dataset folder", UCF_CRIME_SOURCE)
    annotation = labels or next((root / n for n in UCF_CRIME_ANNOTATIONS if (root / n).is_file()), None)
    if annotation is None:
        raise UsageError(f"{root}: no temporal annotation (looked for {', '.join(UCF_CRIME_ANNOTATIONS)}; give it with "
                         f"--labels). {UCF_CRIME_SOURCE}")
    annotated = load_ucf_crime_temporal(annotation)
    found = {p.stem: p for p in sorted(root.rglob("*"))
             if p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith(".") and p.is_file()}
    missing = [a.video for a in annotated if Path(a.video).stem not in found]
    if missing:
        raise UsageError(f"{root}: {len(missing)} of the {len(annotated)} annotated test videos are not under it "
                         f"({', '.join(missing[:5])}{', …' if len(missing) > 5 else ''}). {UCF_CRIME_SOURCE}")
    videos = []
    for entry in annotated:
        path = found[Path(entry.video).stem]
        with open_video(str(path)) as video:  # the container's count; `sized` takes the frames decoded
            count = video.info.frame_count
        videos.append(LabelledVideo(path.stem, path, segment_labels(entry.segments, count), segments=entry.segments))
    return FrameDataset("ucf_crime", 30.0, [], videos)


# each detection dataset's loader, and where the data comes from in the layouts it reads (`vadagent eval list`)
FRAME_DATASETS: dict[str, tuple[Callable[..., FrameDataset], str]] = {
    "ucsd_ped1": (partial(load_ucsd, name="ucsd_ped1"), UCSD_SOURCE),
    "ucsd_ped2": (partial(load_ucsd, name="ucsd_ped2"), UCSD_SOURCE),
    "avenue": (load_avenue, AVENUE_SOURCE),
    "shanghaitech": (load_shanghaitech, SHANGHAITECH_SOURCE),
    "ucf_crime": (load_ucf_crime, UCF_CRIME_SOURCE),
    "ucf_crime_sample": (load_ucf_crime_sample, UCF_SOURCE),
}


def load_frame_dataset(name: str, root: str | Path, labels: Path | None = None) -> FrameDataset:
    """A detection dataset by name; `labels`: its test labels' file where the dataset's folder does not hold it."""
    if name not in FRAME_DATASETS:
        raise UsageError(f"unknown detection dataset {name!r}; supported: {', '.join(FRAME_DATASETS)}")
    return FRAME_DATASETS[name][0](root, labels=labels)


def load_ucsd_ped2(root: str | Path) -> FrameDataset:
    return load_ucsd(root, "ucsd_ped2")
