"""Helpers shared by the benchmark scripts: where results go and how they are written."""

from __future__ import annotations

import json
import platform
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def machine() -> dict:
    import os

    import torch

    return {
        "python": platform.python_version(), "cpus": os.cpu_count(), "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def write_results(name: str, payload: dict, markdown: str, folder: Path | None = None) -> Path:
    """Write `name.json` and `name.md` with the command, the time and the machine."""
    folder = folder or RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"command": shlex.join([Path(sys.argv[0]).name if sys.argv[0].endswith("vadagent") else sys.argv[0],
                                    *sys.argv[1:]]),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine()}
    (folder / f"{name}.json").write_text(json.dumps(meta | payload, indent=2) + "\n", encoding="utf-8")
    header = f"<!-- written by: {meta['command']} on {meta['date']}; machine: {meta['machine']} -->\n\n"
    (folder / f"{name}.md").write_text(header + markdown.rstrip() + "\n", encoding="utf-8")
    return folder / f"{name}.md"


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
