"""The videos under a folder: video files, and folders of frame images, each one video (the layout the
UCSD, Avenue and ShanghaiTech archives ship their clips in, and that many tools export).

A recorder's export nests its files by camera and day (`export/cam1/2026-12-01/0101.mp4`), so a folder's
subfolders are read on request (`recursive`); without it, the videos they hold are counted, so that a batch
can say what it left out instead of passing over it in silence. A dataset's ground truth beside its clips
(UCSD's `Test001_gt/`, a mask image per frame) is a folder of images too, but not footage: it is passed over, said.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Literal

import numpy as np

from vadagent.tools.video.frame_folder import frame_files, is_frame_name, natural_key, read_gray
from vadagent.tools.video.pyav_file import VIDEO_SUFFIXES

log = logging.getLogger(__name__)

MIN_FRAMES = 2  # images a folder must hold to be a video (one image is a snapshot, not footage)
# A mask's gray levels at most: an object's mask on black, or an id per object; footage's frames hold
# hundreds, a night's or a thermal camera's dozens at least.
MASK_LEVELS = 8


@dataclass(frozen=True)
class Found:
    videos: list[Path]  # video files and frame folders, folder by folder in natural order (2 before 10)
    left_below: int = 0  # videos in subfolders, not read (without `recursive`)
    masks: tuple[Path, ...] = ()  # folders of mask images passed over


Kind = Literal["video", "masks", "folder"]


def is_frame_folder(path: Path) -> bool:
    """A folder holding at least MIN_FRAMES frame images (hidden files are not frames)."""
    if not path.is_dir() or not os.access(path, os.R_OK | os.X_OK):
        return False
    with os.scandir(path) as entries:
        images = (e for e in entries if is_frame_name(e.name) and e.is_file())
        return len(list(islice(images, MIN_FRAMES))) == MIN_FRAMES


def _levels(image: np.ndarray | None) -> int:
    """How many gray levels an image holds (every other pixel's: a mask's few survive)."""
    return 256 if image is None else int(np.unique(image[::2, ::2]).size)  # unreadable: not taken for a mask


def is_mask_folder(folder: Path) -> bool:
    """Ground truth, not footage: its first, middle and last images hold MASK_LEVELS gray levels at most (masks on
    black, or black alone where nothing is anomalous). Read at their own depth, so a thermal camera's 16-bit frames,
    two levels apart once cut to 8 bits, stay footage."""
    def levels(image: Path) -> int:
        return _levels(read_gray(image))

    with os.scandir(folder) as entries:  # footage's first image met tells it at once, without a sorted listing
        first = next((Path(e.path) for e in entries if is_frame_name(e.name) and e.is_file()), None)
    if first is None or levels(first) > MASK_LEVELS:
        return False
    images = frame_files(folder)
    return all(levels(images[i]) <= MASK_LEVELS for i in (0, len(images) // 2, -1))


def listing(folder: Path, leave_out: Callable[[Path], bool] = lambda _: False) -> list[tuple[Path, Kind]]:
    """One folder's videos (video files and folders of frames), folders of masks and other subfolders, in natural
    order; hidden entries and folders `leave_out` names are passed over."""
    found: list[tuple[Path, Kind]] = []
    for entry in sorted(folder.iterdir(), key=natural_key):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix.lower() in VIDEO_SUFFIXES:
            found.append((entry, "video"))
        elif entry.is_dir() and not leave_out(entry):
            kind: Kind = "folder" if not is_frame_folder(entry) else "masks" if is_mask_folder(entry) else "video"
            found.append((entry, kind))
    return found


def videos_under(folder: Path, *, recursive: bool = False, leave_out: Callable[[Path], bool] = lambda _: False) -> Found:
    """The videos of `folder`: its video files and its subfolders of frames; with `recursive`, those of every
    folder below it too. A folder of frames that holds no videos is itself one video. Hidden entries, folders
    `leave_out` names (a run's own output), folders of masks and a folder met again through a link are passed
    over; the masks are said."""
    root, seen, masks = folder.resolve(), set(), []

    def walk(here: Path) -> list[Path]:
        if here.resolve() in seen or (here != folder and root.is_relative_to(here.resolve())):  # a link up the tree
            return []
        seen.add(here.resolve())
        try:
            entries = listing(here, leave_out)
        except OSError as error:  # a folder this user may not read (a NAS's lost+found): said, and passed over
            log.warning("%s: cannot be read (%s); its videos are left out", here, error.strerror or error)
            return []
        masks.extend(entry for entry, kind in entries if kind == "masks" and (recursive or here == folder))
        return [video for entry, kind in entries if kind != "masks"
                for video in ([entry] if kind == "video" else walk(entry))]

    every = walk(folder)
    if not every and not masks and is_frame_folder(folder):
        if not is_mask_folder(folder):
            return Found([folder])
        masks.append(folder)
    if masks:
        shown = ", ".join(str(m.relative_to(folder)) if m != folder else m.name for m in masks[:3])
        shown += ", …" if len(masks) > 3 else ""
        log.warning("%s: %d folder(s) of masks passed over (%s): images of %d gray levels or fewer are ground truth, "
                    "not footage", folder, len(masks), shown, MASK_LEVELS)
    if recursive:
        return Found(every, masks=tuple(masks))
    own = [video for video in every if video.parent == folder]
    return Found(own, len(every) - len(own), tuple(masks))
