"""The score timeline as a PNG: scores, threshold, candidates and (when known) ground truth; and a frame's
evidence box drawn on a picture of it (report.html's keyframes, a live moment's)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np

from vadagent.types import Candidate

LABEL_CHARS = 28  # an event's label on the plot; the report gives it whole
MARK_RGB = (230, 30, 30)


def draw_box(rgb: np.ndarray, box: tuple[float, float, float, float], scale: float = 1.0) -> np.ndarray:
    """`rgb` (changed in place, and returned) with `box` (x0, y0, x1, y1, in pixels of the picture `scale`
    times smaller) outlined in red, 2 px wide, inside the box's own pixels."""
    x0, y0, x1, y1 = (round(v * scale) for v in box)
    cv2.rectangle(rgb, (x0, y0), (max(x1 - 1, x0), max(y1 - 1, y0)), MARK_RGB, 2)
    return rgb


def shortened(label: str, chars: int = LABEL_CHARS) -> str:
    return label if len(label) <= chars else label[: chars - 1].rstrip() + "…"


def plot_timeline(path: str | Path | BinaryIO, scores: np.ndarray, fps: float, *, threshold: float | None = None,
                  candidates: list[Candidate] = (), labels: np.ndarray | None = None,
                  events: list[tuple[float, float, str]] = (), title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window
    from matplotlib import pyplot as plt

    times = np.arange(len(scores)) / fps
    fig, ax = plt.subplots(figsize=(10, 2.8), dpi=100)
    if labels is not None:
        ax.fill_between(times, 0, 1, where=np.asarray(labels) > 0, transform=ax.get_xaxis_transform(),
                        color="tab:red", alpha=0.12, step="mid", label="ground truth")
    for i, c in enumerate(candidates):
        ax.axvspan(c.start_s, c.end_s, color="tab:orange", alpha=0.25, label="candidate" if i == 0 else None)
    for i, (start, end, label) in enumerate(events):
        ax.axvspan(start, end, ymin=0.92, ymax=1.0, color="tab:red", alpha=0.8, label="event" if i == 0 else None)
        # inside the axes, shortened and clipped: a model's label may be long, and the layout is not
        # to shrink the plot around it (tight_layout warns it cannot)
        ax.text(start, 0.9, f" {shortened(label)}", transform=ax.get_xaxis_transform(), fontsize=7, va="top",
                color="tab:red", clip_on=True, in_layout=False)
    ax.plot(times, scores, color="tab:blue", linewidth=1.0, label="score")
    if threshold is not None:
        ax.axhline(threshold, color="tab:gray", linestyle="--", linewidth=0.8, label="threshold")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("anomaly score (z)")
    ax.set_xlim(0, max(times[-1] if len(times) else 1.0, 1e-3))
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", fontsize=7, ncols=4)
    with warnings.catch_warnings():  # labels written by a model may use glyphs the font lacks
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        fig.tight_layout()
        fig.savefig(path, format="png")
    plt.close(fig)
    return path
