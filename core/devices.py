"""Pick the torch device: CUDA, then Apple MPS, then CPU (overridable by name); count the CPU cores
this process may use."""

from __future__ import annotations

import glob
import os
import sys


def usable_cores() -> int:
    """Cores this process may run on: fewer than the machine's under taskset or a container's cpuset
    (Linux); the machine's count elsewhere."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def pick_device(preferred: str | None = None) -> str:
    if preferred and preferred != "auto":
        return preferred
    if sys.platform == "linux" and not gpu_device_nodes():
        return "cpu"  # torch, seconds to import, would find no GPU either
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


GPU_NODES = ("/dev/kfd", "/dev/dxg", "/dev/nvmap")  # AMD ROCm, WSL 2, NVIDIA Jetson (no /dev/nvidiaN there)


def gpu_device_nodes() -> bool:
    """Whether Linux shows a device a GPU runtime needs: an NVIDIA card's, or one of GPU_NODES."""
    return bool(glob.glob("/dev/nvidia[0-9]*")) or any(os.path.exists(node) for node in GPU_NODES)
