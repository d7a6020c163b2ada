"""A deep picture read into 8 bits: a thermal camera's 16-bit (or floating-point) gray, as frame images or video.

A thermal camera keeps its sensor's counts, a scene's temperatures in a narrow band of them: 7,413 to 7,636 of
65,535, say. Cut to 8 bits as OpenCV and FFmpeg cut them (the top byte) that is two gray levels, a blank picture
to the scorer and the model alike. Such a picture is mapped to 8 bits by one linear map for the whole video, from
the levels a sample spread over it holds, so a frame keeps its brightness against the others (no per-frame gain,
which would flicker). A scorer reads all of a site's videos by one map, its normal footage's (`site_levels`):
videos mapped each by its own differ by a few gray levels, enough to tip self-validation's choice of tiers
(evals/results/bench_deep_frames.md).
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np

from vadagent.errors import VideoError

Levels = tuple[float, float]  # (black, white) in the picture's own units, mapped to VIDEO_LEVELS
LEVELS_SAMPLE = 16  # frames spread over a deep video whose levels set its map to 8 bits
# Percentiles of their levels, mapped to video's black and white (16 and 235, where a camera's encoder puts them).
# The 1st and 99th, not the extremes: over Ped2's 28 clips made 16-bit, a count's 8-bit level then differs by at
# most 6 from clip to clip, against 34 at the 0.1th and 99.9th (a bright truck in one clip moved its white).
LEVELS_SPAN = (1.0, 99.0)
VIDEO_LEVELS = (16.0, 235.0)
# A thermal camera's gray deeper than 8 bits as FFmpeg decodes it (FFV1 or raw video, a UVC camera's Y16)
DEEP_GRAY = {f"gray{bits}{end}" for bits in (9, 10, 12, 14, 16) for end in ("le", "be")} | {"grayf32le", "grayf32be"}
UNUSED: Levels = (0.0, 1.0)  # given where a video's pictures are only sampled, so that its own map is not measured too


def sample_of(images: list[np.ndarray]) -> np.ndarray:
    """The finite levels of pictures spread over a video (every other pixel of each), as one array."""
    levels = np.concatenate([image[::2, ::2].ravel() for image in images]).astype(np.float64) if images else np.zeros(0)
    return levels[np.isfinite(levels)]


def black_and_white(sample: np.ndarray) -> Levels:
    black, white = np.percentile(sample, LEVELS_SPAN)
    return float(black), float(max(white, black + 1e-6 * max(abs(black), 1.0)))  # one level: no division by 0


def to_8_bits(image: np.ndarray, levels: Levels) -> np.ndarray:
    """`image` (deep gray, or colour) by the linear map taking `levels` to video's black and white."""
    (black, white), (low, high) = levels, VIDEO_LEVELS
    scale = (high - low) / (white - black)
    # clipped to what maps into 0–255 first: convertScaleAbs takes the absolute value of what falls below 0
    inside = np.clip(image, black - low / scale, white + (255.0 - high) / scale)
    return cv2.convertScaleAbs(inside, alpha=scale, beta=low - black * scale)


def site_levels(sources: list[str]) -> Levels | None:
    """One map to 8 bits for a site's deep videos (folders of 16-bit frames, 16-bit video files), from a sample
    spread over each (each video weighs alike); None where none of them is deeper than 8 bits."""
    from vadagent.tools.video.source import open_video  # which opens through the modules that import this one

    samples = []
    for source in dict.fromkeys(sources):
        if Path(source).is_file() and not _deep_file(source):  # a glance at its header: most videos are 8 bits
            continue
        try:
            with open_video(source, levels=UNUSED) as video:  # its own map is not needed, only its sample
                sample = video.level_sample()
        except VideoError:  # said where the footage is read
            continue
        if sample is not None and len(sample):
            samples.append(np.random.default_rng(0).choice(sample, min(len(sample), 200_000), replace=False))
    return black_and_white(np.concatenate(samples)) if samples else None


def is_deep_stream(stream: av.video.stream.VideoStream) -> bool:
    """Whether a video stream's gray is deeper than 8 bits, as its header says."""
    return stream.codec_context is not None and stream.codec_context.pix_fmt in DEEP_GRAY


def _deep_file(path: str) -> bool:
    """Whether a video file's gray is deeper than 8 bits, from its header alone (a full open reads its packets)."""
    try:
        with av.open(path) as container:
            return bool(container.streams.video) and is_deep_stream(container.streams.video[0])
    except av.error.FFmpegError:  # said where the footage is read
        return False
