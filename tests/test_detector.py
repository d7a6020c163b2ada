"""The optional detector loads from a local weights file through the real torchvision path."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from torchvision.models.detection import ssdlite320_mobilenet_v3_large

from vadagent.tools.detector import WEIGHTS_FILE, ObjectDetector, find_weights, load_detector


def test_absent_weights_mean_no_detector(monkeypatch, tmp_path):
    monkeypatch.setenv("VADAGENT_DETECTOR_WEIGHTS", str(tmp_path / "missing.pth"))
    assert find_weights() is None and load_detector() is None


def test_local_weights_load_and_detect(monkeypatch, tmp_path):
    # Randomly initialised weights of the real architecture stand in for the COCO checkpoint (no download).
    torch.manual_seed(0)
    weights = tmp_path / "ssdlite.pth"
    torch.save(ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=91).state_dict(), weights)
    monkeypatch.setenv("VADAGENT_DETECTOR_WEIGHTS", str(weights))
    detector = load_detector()
    assert isinstance(detector, ObjectDetector)
    detector.min_score = 0.0
    frames = np.random.default_rng(0).integers(0, 255, (2, 240, 320, 3), dtype=np.uint8)
    found = detector.detect(frames)
    assert len(found) == 2
    for detection in found[0][:5]:
        x0, y0, x1, y1 = detection.box
        assert detection.label in detector.labels and 0 <= x0 <= x1 <= 320 and 0 <= y0 <= y1 <= 240


@pytest.mark.parametrize("variable, under", [("TORCH_HOME", "hub"), ("XDG_CACHE_HOME", "torch/hub")])
def test_weights_in_the_torch_hub_cache_are_found_without_importing_torch(tmp_path, variable, under):
    weights = tmp_path / under / "checkpoints" / WEIGHTS_FILE
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"")
    env = {k: v for k, v in os.environ.items() if k not in ("TORCH_HOME", "XDG_CACHE_HOME", "VADAGENT_DETECTOR_WEIGHTS")}
    probe = ("import sys; from vadagent.tools.detector import find_weights; "
             "print(find_weights(), 'torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], env={**env, variable: str(tmp_path)},
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == [str(weights), "False"], result.stderr


def test_weights_are_found_while_another_thread_is_still_importing_torch(tmp_path, monkeypatch):
    """A VLM's background load imports torch while the job looks for the detector's weights: torch is
    in sys.modules then, without its `hub` yet (the race a batch run once lost with an AttributeError)."""
    from types import ModuleType

    weights = tmp_path / "hub" / "checkpoints" / WEIGHTS_FILE
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("VADAGENT_DETECTOR_WEIGHTS", raising=False)
    monkeypatch.setitem(sys.modules, "torch", ModuleType("torch"))  # as a partly run `import torch` leaves it
    assert find_weights() == weights
