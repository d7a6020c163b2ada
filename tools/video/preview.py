"""A copy of a video that a browser can play, for the web UI's player: of a file a browser cannot play, and of a
folder of frames (the UCSD, Avenue and ShanghaiTech layout).

Browsers play MP4 and WebM with H.264, VP8, VP9 or AV1; what cameras and recorders write is often
MPEG-TS, AVI, MKV, FLV or H.265, which the player would show as an error. Such a video is transcoded
once into an H.264 MP4 beside its report, no larger than `max_side`, each frame at its own timestamp
(from the first frame's), so that an event's time seeks the copy to the same frame as the original.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av

from vadagent.errors import VideoError
from vadagent.tools.video.decoded import frame_to_array, is_deep, pixel_aspect, square_size
from vadagent.tools.video.frame_folder import DEFAULT_FOLDER_FPS
from vadagent.tools.video.levels import is_deep_stream
from vadagent.tools.video.packets import continuous
from vadagent.tools.video.pyav_file import CLIP_H264_OPTIONS
from vadagent.tools.video.source import open_video

log = logging.getLogger(__name__)

# what the major browsers all play, by file suffix and codec (FFmpeg's names)
BROWSER_PLAYABLE = {".mp4": {"h264", "av1", "vp9"}, ".m4v": {"h264", "av1", "vp9"}, ".webm": {"vp8", "vp9", "av1"}}
PREVIEW_NAME = "preview.mp4"
COPYING = "making a copy the browser can play"  # the stage a progress callback is told


def browser_playable(path: Path) -> bool:
    """Whether a browser plays `path` as the reports read it: its container and codec, and not interlaced (a browser
    shows the woven fields, combed; the copy has each frame's first field, `decoded.one_field`)."""
    codecs = BROWSER_PLAYABLE.get(path.suffix.lower())
    if not codecs:
        return False
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0] if container.streams.video else None
            if stream is None or stream.codec_context is None or stream.codec_context.name not in codecs:
                return False
            first = next(container.decode(stream), None)
            return first is not None and not first.interlaced_frame
    except av.error.FFmpegError:  # unreadable here: a copy cannot be written either (`playable_copy` says why)
        return False


def playable_copy(video: Path, folder: Path, *, max_side: int = 640, fps: float = DEFAULT_FOLDER_FPS,
                  progress: Callable[[str, int, int], None] | None = None) -> Path:
    """`video` itself where a browser plays it, else its copy in `folder` (written once, and again
    when the video is newer than the copy); `progress(stage, frames done, frames in all)` meanwhile (an
    hour's recording takes minutes). A folder of frames is played at `fps`, its i-th frame at i / fps
    seconds, as its reports count time."""
    if video.is_file() and browser_playable(video):
        return video
    copy = folder / PREVIEW_NAME
    if copy.is_file() and copy.stat().st_mtime >= video.stat().st_mtime:  # a folder's, as frames come and go
        return copy
    partial = copy.with_suffix(".partial.mp4")
    try:
        if video.is_dir():
            _encode_frames(video, partial, max_side, fps, progress)
        else:
            _transcode(video, partial, max_side, progress)
    except (av.error.FFmpegError, OSError) as error:
        partial.unlink(missing_ok=True)
        raise VideoError(str(video), f"could not write a copy the browser can play: {error}") from None
    partial.replace(copy)  # a copy is whole or absent: a stopped write leaves no half video to play
    log.info("%s: the player shows a browser-playable copy, %s", video, copy)
    return copy


def _copy_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The copy's size: no side over `max_side`, both even (H.264 in yuv420p wants them so)."""
    scale = min(1.0, max_side / max(width, height))
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def _encode_frames(folder: Path, target: Path, max_side: int, fps: float,
                   progress: Callable[[str, int, int], None] | None) -> None:
    with open_video(str(folder), folder_fps=fps) as source, av.open(str(target), "w", format="mp4") as out:
        info = source.info
        width, height = _copy_size(info.width, info.height, max_side)
        rate = Fraction(fps).limit_denominator(1001)  # 29.97 as 30000/1001: frame i's time is i / fps exactly
        stream = out.add_stream("libx264", rate=rate, options={**CLIP_H264_OPTIONS, "crf": "26"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for batch in source.scan(gray=False, size=(width, height)):
            for index, rgb in zip(batch.indices, batch.frames, strict=True):
                picture = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
                picture.pts, picture.time_base = int(index), 1 / rate  # an unreadable frame leaves its time empty
                out.mux(stream.encode(picture))
            if progress:
                progress(COPYING, int(batch.indices[-1]) + 1, info.frame_count)
        out.mux(stream.encode())


def _transcode(source: Path, target: Path, max_side: int, progress: Callable[[str, int, int], None] | None) -> None:
    # recordings joined end to end play their parts one after another, as the reports' times count them
    with av.open(str(continuous(source))) as src, av.open(str(target), "w", format="mp4") as out:
        video = src.streams.video[0]
        # MPEG-TS and the like declare no frame count: estimated from the duration, never below what is done
        duration_s = float(src.duration / av.time_base) if src.duration else 0.0
        total = video.frames or round(duration_s * float(video.average_rate or video.guessed_rate or 25))
        video.thread_type = "AUTO"
        # frames that change size part-way are scaled to the first's
        # non-square pixels made square, as the reports read them: the copy states none
        width, height = _copy_size(*square_size(video.width, video.height, pixel_aspect(video)), max_side)
        rate = video.average_rate or video.guessed_rate or 25
        levels = None
        if is_deep_stream(video):  # a thermal camera's: shown as the scorer reads it, not FFmpeg's cut
            with open_video(source) as opened:
                levels = opened.levels
        stream = first = last = None
        for number, frame in enumerate(src.decode(video)):
            if stream is None:
                stream = out.add_stream("libx264", rate=rate, options={**CLIP_H264_OPTIONS, "crf": "26"})
                stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
                # the encoder counts in the video's time base too: at 1/rate it would round each frame's time to the
                # frame interval, and two frames within one interval (a variable rate) to the same time, which
                # the muxer refuses
                stream.time_base = stream.codec_context.time_base = video.time_base
                if getattr(frame, "rotation", 0):  # a phone's or camera's rotation tag: the copy shows it upright too
                    stream.set_display_rotation(frame.rotation)
            pts = frame.pts if frame.pts is not None else int(number / rate / video.time_base)
            first = pts if first is None else first
            if last is not None and pts <= last:  # a repeated or reordered timestamp: the muxer wants them rising
                pts = last + 1
            last = pts
            # a thermal camera's deep gray by its levels, an interlaced frame by its first field: as the reports read them
            if (levels is not None and is_deep(frame)) or frame.interlaced_frame:
                rgb = frame_to_array(frame, False, size=(width, height), levels=levels, by_field=True)
                picture = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            else:
                picture = frame.reformat(width=width, height=height, format="yuv420p", interpolation="AREA")
            picture.pts, picture.time_base = pts - first, video.time_base
            out.mux(stream.encode(picture))
            if progress and number % 25 == 0:
                progress(COPYING, number + 1, max(total, number + 1))
        if stream is None:
            raise VideoError(str(source), "no decodable frames")
        out.mux(stream.encode())
