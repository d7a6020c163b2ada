"""`vadagent serve MODEL`: start `vllm serve` with the settings vadagent's requests need."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx

from vadagent.errors import MissingExtraError, UsageError, VadagentError


@dataclass(frozen=True)
class ServeOptions:
    model: str
    host: str = "127.0.0.1"
    port: int = 8000
    served_name: str | None = None
    max_model_len: int = 32768
    gpu_memory_utilization: float = 0.9
    images_per_prompt: int = 32  # a judge call sends up to ~16 keyframes; chat `look` a few more
    videos_per_prompt: int = 1
    structured_backend: str = "xgrammar"

    @property
    def name(self) -> str:
        return self.served_name or self.model

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def vlm_string(self) -> str:
        return f"vllm:{self.name}@{self.base_url}"


def vllm_command(options: ServeOptions) -> list[str]:
    """The `vllm serve` command line (JSON-valued flags as vLLM documents them)."""
    return [
        "vllm", "serve", options.model,
        "--host", options.host, "--port", str(options.port),
        "--served-model-name", options.name,
        "--max-model-len", str(options.max_model_len),
        "--gpu-memory-utilization", str(options.gpu_memory_utilization),
        "--limit-mm-per-prompt", json.dumps({"image": options.images_per_prompt, "video": options.videos_per_prompt}),
        "--structured-outputs-config", json.dumps({"backend": options.structured_backend}),
    ]


def check_can_serve() -> None:
    """Fail at once, with the fix, when vLLM or a CUDA GPU is missing."""
    if importlib.util.find_spec("vllm") is None or shutil.which("vllm") is None:
        raise MissingExtraError("'vadagent serve' (vLLM, which needs a CUDA GPU)", "vllm")
    import torch

    if not torch.cuda.is_available():
        raise UsageError("'vadagent serve' needs a CUDA GPU for vLLM, and none is visible; on this machine use the "
                         "in-process default (--vlm hf:MODEL) or point --vlm at a server elsewhere (vllm:MODEL@URL)")


def wait_until_ready(options: ServeOptions, process: subprocess.Popen, timeout_s: float = 900.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise VadagentError(f"vllm serve exited with status {process.returncode} before it was ready")
        try:
            if httpx.get(f"{options.base_url}/models", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(2.0)
    process.terminate()
    raise VadagentError(f"vllm serve did not answer on {options.base_url} within {timeout_s:.0f} s")


def serve(options: ServeOptions, print_line=print) -> int:
    check_can_serve()
    process = subprocess.Popen(vllm_command(options), stdout=sys.stderr, stderr=sys.stderr)
    try:
        wait_until_ready(options, process)
        print_line(f"ready; use --vlm {options.vlm_string}")
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        return process.wait()
