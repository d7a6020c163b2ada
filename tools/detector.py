"""Optional pretrained object detector for relations, used only when its weights are on disk.

vadagent never downloads it. It looks for torchvision's SSDlite320-MobileNetV3 COCO weights at
`$VADAGENT_DETECTOR_WEIGHTS`, else in the torch hub cache (`torch.hub.get_dir()/checkpoints`),
where `torchvision` itself stores them after a download on a connected machine. Weights are
read with `torch.load(weights_only=True)`, which loads tensors only and runs no pickled code.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WEIGHTS_FILE = "ssdlite320_mobilenet_v3_large_coco-a79551df.pth"


@dataclass(frozen=True)
class Detection:
    label: str
    score: float
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in source pixels


def find_weights() -> Path | None:
    explicit = os.environ.get("VADAGENT_DETECTOR_WEIGHTS")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    cached = _torch_hub_dir() / "checkpoints" / WEIGHTS_FILE
    return cached if cached.is_file() else None


def _torch_hub_dir() -> Path:
    """`torch.hub.get_dir()`, without importing torch (seconds) only to learn that no weights are there:
    $TORCH_HOME/hub, TORCH_HOME defaulting to $XDG_CACHE_HOME/torch, that to ~/.cache/torch."""
    hub = getattr(sys.modules.get("torch"), "hub", None)
    if hub is not None:  # imported already: ask it, which also honours torch.hub.set_dir (not while another
        return Path(hub.get_dir())  # thread is still importing it, a VLM's background load: no `hub` yet then)
    cache = os.environ.get("XDG_CACHE_HOME", "~/.cache")
    return Path(os.environ.get("TORCH_HOME", os.path.join(cache, "torch"))).expanduser() / "hub"


class ObjectDetector:
    def __init__(self, weights: Path, device: str = "cpu", min_score: float = 0.5) -> None:
        import torch
        from torchvision.models.detection import SSDLite320_MobileNet_V3_Large_Weights, ssdlite320_mobilenet_v3_large

        self.labels = SSDLite320_MobileNet_V3_Large_Weights.COCO_V1.meta["categories"]
        self.model = ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=len(self.labels))
        self.model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
        self.model.eval().to(device)
        self.device, self.min_score = device, min_score

    def detect(self, frames: np.ndarray) -> list[list[Detection]]:
        """Detections per RGB frame (n, H, W, 3) uint8."""
        import torch

        batch = [torch.from_numpy(f).permute(2, 0, 1).float().div(255).to(self.device) for f in frames]
        with torch.inference_mode():
            outputs = self.model(batch)
        return [[Detection(self.labels[int(label)], float(score), tuple(int(v) for v in box.tolist()))
                 for box, label, score in zip(o["boxes"], o["labels"], o["scores"]) if score >= self.min_score]
                for o in outputs]


def load_detector(device: str = "cpu") -> ObjectDetector | None:
    weights = find_weights()
    return ObjectDetector(weights, device) if weights is not None else None
