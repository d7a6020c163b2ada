"""The videos under a folder: video files, and folders of frame images, each one video (the layout the
UCSD, Avenue and ShanghaiTech archives ship their clips in, and that many tools export).

A recorder's export nests its files by camera and day (`export/cam1/2026-12-01/0101.mp4`), so a folder's
subfolders are read on request (`recursive`); without it, the videos they hold are counted, so that a batch
can say what it left out instead of passing over it in silence.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from vadagent.tools.video.frame_folder import is_frame_name, natural_key
from vadagent.tools.video.pyav_file import VIDEO_SUFFIXES

log = logging.getLogger(__name__)

MIN_FRAMES = 2  # images a folder must hold to be a video (one image is a snapshot, not footage)


@dataclass(frozen=True)
class Found:
    videos: list[Path]  # video files and frame folders, folder by folder in natural order (2 before 10)
    left_below: int = 0  # videos in subfolders, not read (without `recursive`)


def is_frame_folder(path: Path) -> bool:
    """A folder holding at least MIN_FRAMES frame images (hidden files are not frames)."""
    if not path.is_dir() or not os.access(path, os.R_OK | os.X_OK):
        return False
    with os.scandir(path) as entries:
        images = (e for e in entries if is_frame_name(e.name) and e.is_file())
        return len(list(islice(images, MIN_FRAMES))) == MIN_FRAMES


def listing(folder: Path, leave_out: Callable[[Path], bool] = lambda _: False) -> list[tuple[Path, bool]]:
    """One folder's videos (video files and folders of frames: True) and other subfolders (False), in natural
    order; hidden entries and folders `leave_out` names are passed over."""
    found = []
    for entry in sorted(folder.iterdir(), key=natural_key):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix.lower() in VIDEO_SUFFIXES:
            found.append((entry, True))
        elif entry.is_dir() and not leave_out(entry):
            found.append((entry, is_frame_folder(entry)))
    return found


def videos_under(folder: Path, *, recursive: bool = False, leave_out: Callable[[Path], bool] = lambda _: False) -> Found:
    """The videos of `folder`: its video files and its subfolders of frames; with `recursive`, those of every
    folder below it too. A folder of frames that holds no videos is itself one video. Hidden entries, folders
    `leave_out` names (a run's own output) and a folder met again through a link are passed over."""
    root, seen = folder.resolve(), set()

    def walk(here: Path) -> list[Path]:
        if here.resolve() in seen or (here != folder and root.is_relative_to(here.resolve())):  # a link up the tree
            return []
        seen.add(here.resolve())
        try:
            entries = listing(here, leave_out)
        except OSError as error:  # a folder this user may not read (a NAS's lost+found): said, and passed over
            log.warning("%s: cannot be read (%s); its videos are left out", here, error.strerror or error)
            return []
        return [video for entry, is_video in entries for video in ([entry] if is_video else walk(entry))]

    every = walk(folder)
    if not every and is_frame_folder(folder):
        return Found([folder])
    if recursive:
        return Found(every)
    own = [video for video in every if video.parent == folder]
    return Found(own, len(every) - len(own))
