"""Area downscaling that stays fast on large frames.

OpenCV's INTER_AREA averages exactly, and fast, when both factors are whole numbers; at other factors it
weighs source pixels per output pixel, which takes a 4K frame down to the scorer's 360 px in about 20 ms on
one core (1080p: 6 ms), several times the frame's decoding (`evals/bench_shrink.py`). A frame at least
`MIN_FACTOR` times the target on both sides is therefore first reduced by the largest whole factor that
divides both its sides (exact block means), then area-resized the rest of the way: a 4K frame in about
5 ms, a mean gray-level difference from the one-step result of one or two levels. Frames nearer the
target size (Ped2, 640×480, 720p for the scorer) are resized in one step, as before.
"""

from __future__ import annotations

import cv2
import numpy as np

MIN_FACTOR = 4  # below it the one-step resize costs at most ≈2 ms a frame (720p to 360 px) and is kept


def shrink(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`image` (gray or colour) area-resized to `size` (width, height); itself where it is that size."""
    height, width = image.shape[:2]
    if (width, height) == size:
        return image
    whole = min(width // size[0], height // size[1])
    if whole >= MIN_FACTOR:
        factor = next((k for k in range(whole, 1, -1) if width % k == 0 and height % k == 0), 1)
        if factor > 1:
            image = cv2.resize(image, (width // factor, height // factor), interpolation=cv2.INTER_AREA)
            if image.shape[1::-1] == size:
                return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def fit_side(image: np.ndarray, max_side: int) -> np.ndarray:
    """`image` shrunk so that its longer side is at most `max_side`, keeping its shape."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1.0:
        return image
    return shrink(image, (max(int(round(width * scale)), 1), max(int(round(height * scale)), 1)))
