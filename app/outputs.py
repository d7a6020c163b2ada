"""Output folders: one run writes into one folder at a time."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ParamSpec, TypeVar

from filelock import FileLock, Timeout

from vadagent.errors import UsageError

LOCK_NAME = ".vadagent.lock"
P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def claim_output(folder: Path) -> Iterator[Path]:
    """Create `folder` and hold its lock while a run writes there; a second run fails at once with
    a clear error instead of silently replacing the first one's files. The lock is an OS file lock
    (`filelock`), so a killed run never leaves it held."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder}: exists and is not a folder; give -o a folder to write into")
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / LOCK_NAME)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise UsageError(f"{folder}: another vadagent run is writing there; wait for it to finish or choose another "
                         "-o folder") from None
    try:
        yield folder
    finally:
        lock.release()


def writes_output(command: Callable[P, R]) -> Callable[P, R]:
    """Run a command holding the lock of its `output` folder."""
    signature = inspect.signature(command)

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with claim_output(signature.bind(*args, **kwargs).arguments["output"]):
            return command(*args, **kwargs)

    return run
