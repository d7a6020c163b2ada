"""Video IO: one way to open a file or a folder of frames, scan it in chunks, read frames at times."""

from vadagent.tools.video import frame_folder as _frame_folder  # noqa: F401 - registers the opener
from vadagent.tools.video import pyav_file as _pyav_file  # noqa: F401 - registers the opener
from vadagent.tools.video.frame_folder import IMAGE_SUFFIXES, frame_files
from vadagent.tools.video.pyav_file import VIDEO_SUFFIXES
from vadagent.tools.video.source import FrameBatch, VideoSource, open_video, register_opener

__all__ = ["FrameBatch", "IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "VideoSource", "frame_files", "open_video",
           "register_opener"]
