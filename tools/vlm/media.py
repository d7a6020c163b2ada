"""Image and video preprocessing shared by every client, so a request costs the same anywhere."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image as PILImage

from vadagent.tools.video.shrink import fit_side
from vadagent.tools.vlm.types import Image, Message, Part, Video


@dataclass(frozen=True)
class MediaLimits:
    max_side: int = 768  # longest image side in pixels
    max_video_frames: int = 16
    jpeg_quality: int = 90


def cap_frames(video: Video, max_frames: int) -> Video:
    """Evenly subsample a clip to at most `max_frames`, keeping the first and last."""
    if len(video.frames) <= max_frames:
        return video
    keep = np.unique(np.linspace(0, len(video.frames) - 1, max_frames).round().astype(int))
    return Video(tuple(video.frames[i] for i in keep), tuple(video.times_s[i] for i in keep))


def prepare(messages: list[Message], limits: MediaLimits) -> list[Message]:
    """Resize every image and frame, cap every clip: the one place requests are normalised."""
    def part(p: Part) -> Part:
        if isinstance(p, Image):
            return Image(fit_side(_rgb(p.pixels), limits.max_side), p.time_s)
        if isinstance(p, Video):
            capped = cap_frames(p, limits.max_video_frames)
            return Video(tuple(fit_side(_rgb(f), limits.max_side) for f in capped.frames), capped.times_s)
        return p

    return [Message(m.role, tuple(part(p) for p in m.parts)) for m in messages]


def _rgb(pixels: np.ndarray) -> np.ndarray:
    if pixels.ndim == 2:
        return np.repeat(pixels[..., None], 3, axis=2)
    if pixels.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 RGB, got {pixels.dtype}")
    return pixels


def to_pil(pixels: np.ndarray) -> PILImage.Image:
    return PILImage.fromarray(_rgb(pixels))


def jpeg_data_url(pixels: np.ndarray, quality: int = 90) -> str:
    # OpenCV's encoder (libjpeg-turbo) is several times faster than Pillow's here.
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(_rgb(pixels), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def mp4_data_url(video: Video) -> str:
    """A clip as an H.264 MP4 data URL, for servers that take `video_url` parts (vLLM)."""
    import av

    from vadagent.tools.video.pyav_file import CLIP_H264_OPTIONS

    buffer = io.BytesIO()
    height, width = video.frames[0].shape[:2]
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=max(int(round(video.fps)), 1), options=CLIP_H264_OPTIONS)
        stream.width, stream.height, stream.pix_fmt = width - width % 2, height - height % 2, "yuv420p"
        for frame in video.frames:
            image = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[: stream.height, : stream.width]), format="rgb24")
            for packet in stream.encode(image):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return "data:video/mp4;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def frame_label(time_s: float | None) -> str:
    return f"[frame at {time_s:.2f} s]" if time_s is not None else "[image]"


def video_label(video: Video) -> str:
    return f"[video from {video.times_s[0]:.2f} s to {video.times_s[-1]:.2f} s, {len(video.frames)} frames]"
