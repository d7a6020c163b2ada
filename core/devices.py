"""Pick the torch device: CUDA, then Apple MPS, then CPU (overridable by name)."""

from __future__ import annotations


def pick_device(preferred: str | None = None) -> str:
    import torch

    if preferred and preferred != "auto":
        return preferred
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"
