"""Pick the torch device: CUDA, then Apple MPS, then CPU (overridable by name); count the CPU cores
this process may use."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """Cores this process may run on: fewer than the machine's under taskset or a container's cpuset
    (Linux); the machine's count elsewhere."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


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
