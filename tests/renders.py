"""What a camera's weather does to its frames, rendered for the tests (evals/bench_robustness.py renders the same)."""

import cv2
import numpy as np


def rain(frames: np.ndarray, seed: int = 0) -> np.ndarray:
    """40 streaks of 12 px a frame, 40 gray levels brighter, at new places every frame."""
    rng, out = np.random.default_rng(seed), []
    for frame in frames:
        streaks = np.zeros(frame.shape[:2], np.uint8)
        for x, y in zip(rng.integers(0, frame.shape[1], 40), rng.integers(-12, frame.shape[0], 40)):
            cv2.line(streaks, (int(x), int(y)), (int(x) + 2, int(y) + 12), 40, 1)
        out.append(cv2.add(frame, cv2.merge([streaks] * 3)))
    return np.stack(out)
