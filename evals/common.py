"""Helpers shared by the benchmark scripts: where results go and how they are written."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

DATA_ENV = "VADAGENT_DATA"  # the folder holding the datasets, so benchmark commands need no --data


def results_folder(folder: Path | None = None) -> Path:
    """Where results go: the folder asked for, else evals/results under the working directory
    (never the installed package, which is site-packages once installed)."""
    return folder if folder is not None else Path.cwd() / "evals" / "results"


def add_data_argument(parser: argparse.ArgumentParser, flag: str = "--data", below: str = "", *,
                      required: bool = True) -> None:
    """A dataset-root option: required (unless `required` is False) where $VADAGENT_DATA names no data folder."""
    base = os.environ.get(DATA_ENV)
    default = Path(base) / below if base else None
    parser.add_argument(flag, type=Path, default=default, required=required and default is None,
                        help=f"data folder{f' ({below})' if below else ''}; default from ${DATA_ENV}")


def add_results_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", type=Path, default=None, help="results folder (default ./evals/results)")


def machine() -> dict:
    import torch

    return {
        "python": platform.python_version(), "cpus": os.cpu_count(), "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def write_results(name: str, payload: dict, markdown: str, folder: Path | None = None) -> Path:
    """Write `name.json` and `name.md` with the command, the time and the machine."""
    folder = results_folder(folder)
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
