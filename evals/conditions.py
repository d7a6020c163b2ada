"""What a camera's light, weather, mount and recorder do to its frames: the changes evals/bench_robustness.py
scores a fitted scorer under, and the tests render the same way. Frames are (n, height, width, 3) uint8; each
change is seeded, so a clip changes the same way every run."""

from __future__ import annotations

import cv2
import numpy as np

FPS = 25.0  # the rate the changes that take one assume unless told


def brightness(frames: np.ndarray, gain: float = 0.8) -> np.ndarray:
    """The whole picture at `gain` times its brightness (below 1 darker, above brighter)."""
    return np.clip(frames.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def grainy(frames: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """Sensor grain: Gaussian noise of `sigma` gray levels, new every frame, the same on the three channels."""
    rng = np.random.default_rng(seed)
    return np.stack([np.clip(f + rng.normal(0, sigma, f.shape[:2])[..., None], 0, 255).astype(np.uint8) for f in frames])


def dawn(frames: np.ndarray, fps: float = FPS) -> np.ndarray:
    """From 45 % of the brightness to all of it over the first minute, then as filmed."""
    ramp = np.clip(0.45 + 0.55 * np.arange(len(frames)) / (60 * fps), 0.45, 1.0)
    return np.clip(frames * ramp[:, None, None, None], 0, 255).astype(np.uint8)


def rain(frames: np.ndarray, drops: int = 40, length: int = 12, slant: int = 2, width: int = 1, brighter: int = 40,
         seed: int = 0) -> np.ndarray:
    """Rain: `drops` streaks a frame, `length` px down and `slant` across, `brighter` gray levels brighter, at new
    places every frame."""
    rng = np.random.default_rng(seed)
    out = []
    for frame in frames:
        streaks = np.zeros(frame.shape[:2], np.uint8)
        for x, y in zip(rng.integers(0, frame.shape[1], drops), rng.integers(-length, frame.shape[0], drops)):
            cv2.line(streaks, (int(x), int(y)), (int(x) + slant, int(y) + length), 1, width)
        out.append(np.clip(frame + brighter * streaks[..., None].astype(np.int16), 0, 255).astype(np.uint8))
    return np.stack(out)


def drizzle(frames: np.ndarray) -> np.ndarray:
    """Denser, fainter rain at a slant: 150 streaks of 2 by 20 px a frame, 15 gray levels brighter."""
    return rain(frames, drops=150, length=20, slant=5, width=2, brighter=15)


def snow(frames: np.ndarray, flakes: int = 300, seed: int = 0) -> np.ndarray:
    """Snow: `flakes` dots of 3 px, 60 gray levels brighter, drifting down by 1 to 3 px a frame and sideways at random."""
    rng = np.random.default_rng(seed)
    height, width = frames.shape[1:3]
    where = np.stack([rng.uniform(0, width, flakes), rng.uniform(0, height, flakes)], 1)
    drift = np.stack([rng.normal(0, 0.5, flakes), rng.uniform(1, 3, flakes)], 1)
    out = []
    for frame in frames:
        dots = np.zeros((height, width), np.uint8)
        for x, y in where:
            cv2.circle(dots, (int(x), int(y)), 1, 1, -1)
        out.append(np.clip(frame + 60 * dots[..., None].astype(np.int16), 0, 255).astype(np.uint8))
        where = (where + drift + rng.normal(0, 0.3, where.shape)) % [width, height]
    return np.stack(out)


def fog(frames: np.ndarray, contrast: float) -> np.ndarray:
    """The picture at `contrast` times its contrast under a bright veil (gray level 200): haze, fog."""
    return np.clip(frames * np.float32(contrast) + (1 - contrast) * 200, 0, 255).astype(np.uint8)


def jitter(frames: np.ndarray) -> np.ndarray:
    """The picture jumping by up to 2 px in each direction every frame (wind on a pole)."""
    rng = np.random.default_rng(0)
    return np.stack([np.roll(f, tuple(rng.integers(-2, 3, 2)), (0, 1)) for f in frames])


def sway(frames: np.ndarray, fps: float = FPS) -> np.ndarray:
    """The picture swaying smoothly, ±3 px across and ±2 px up and down, about once a second (a camera on a
    pole in the wind)."""
    out = []
    for i, frame in enumerate(frames):
        t = i / fps
        moved = np.float32([[1, 0, 3 * np.sin(2 * np.pi * t / 1.2)], [0, 1, 2 * np.sin(2 * np.pi * t / 0.9)]])
        out.append(cv2.warpAffine(frame, moved, (frame.shape[1], frame.shape[0]), borderMode=cv2.BORDER_REFLECT))
    return np.stack(out)


def dropped(count: int) -> np.ndarray:
    """The frame numbers a recorder under load keeps: about one in six lost, in runs of one to three."""
    rng = np.random.default_rng(3)
    keep = np.ones(count, bool)
    for start in np.flatnonzero(rng.random(count) < 0.08):
        keep[start : start + rng.integers(1, 4)] = False
    keep[0] = True
    return np.flatnonzero(keep)


def variable(count: int, fps: float = FPS) -> np.ndarray:
    """The frame numbers a variable-rate recorder keeps: 4 s at the full rate, then 4 s at a fifth of
    it (what a camera's smart codec does when the scene is quiet), and so on."""
    numbers = np.arange(count)
    slow = (numbers // int(4 * fps)) % 2 == 1
    return numbers[~slow | (numbers % 5 == 0)]


def turned(frames: np.ndarray, degrees: float, shift: tuple[int, int], at: int, zoom: float = 1.0) -> np.ndarray:
    """From frame `at` on, the picture turned by `degrees` about its centre, zoomed by `zoom` (above 1: drawn in) and
    moved by `shift` px."""
    height, width = frames.shape[1:3]
    move = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, zoom)
    move[:, 2] += shift
    return np.concatenate([frames[:at], [cv2.warpAffine(f, move, (width, height), borderMode=cv2.BORDER_REFLECT)
                                         for f in frames[at:]]])
