"""Starting local servers for tests: a free port, and waiting until one answers."""

import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(process: subprocess.Popen, url: str, name: str, log: Path | None = None, timeout_s: float = 120) -> None:
    """Poll `url` until it answers 200; fail with the server's output if it exits or never answers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text()[-2000:] if log else (process.stderr.read()[-2000:] if process.stderr else "")
            pytest.fail(f"{name} exited: {output}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    pytest.fail(f"{name} did not start within {timeout_s:g} s")
