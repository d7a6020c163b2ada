"""Output folders: one run writes into one folder at a time; a batch may publish to a URL."""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import posixpath
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ParamSpec, TypeVar

from filelock import FileLock, Timeout

from vadagent.errors import MissingExtraError, UsageError, VadagentError

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


class Destination:
    """Where a batch's reports end up: a local folder, written in place. `local` is the folder the
    batch works in; `publish` makes a finished report (or other files) visible at the destination."""

    def __init__(self, folder: Path) -> None:
        self.local = folder

    def has_report(self, name: str) -> bool:
        return (self.local / name / "report.json").is_file()

    def report_location(self, name: str) -> str:
        return str(self.local / name / "report.json")

    def publish(self, *names: str) -> None:  # noqa: B027 - a local folder is already the destination
        pass

    def __str__(self) -> str:
        return str(self.local)


class RemoteDestination(Destination):
    """An fsspec URL (`s3://bucket/reports`, `gs://…`, any filesystem fsspec knows; the 'cloud' extra).
    The batch works in a local staging folder, keyed by the URL, and uploads each finished report,
    its `report.json` last, so a report whose `report.json` is there is complete. The index travels
    too (downloaded at the start, uploaded after every video), so a rerun from another machine
    skips what is finished."""

    def __init__(self, url: str, staging_root: Path | None = None) -> None:
        try:
            import fsspec
        except ImportError:
            raise MissingExtraError(f"writing to {url}", "cloud") from None
        try:
            self.fs, self.root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as error:  # an unknown protocol, or its package missing
            raise UsageError(f"{url}: cannot write there ({error})") from None
        self.url = url.rstrip("/")
        root = staging_root or Path(os.environ.get("VADAGENT_STAGING", Path(tempfile.gettempdir()) / "vadagent-staging"))
        super().__init__(root / hashlib.sha256(self.url.encode()).hexdigest()[:16])
        self.local.mkdir(parents=True, exist_ok=True)
        for name in ("index.sqlite", "scorer"):  # what a rerun needs from an earlier run
            if self.fs.exists(f"{self.root}/{name}") and not (self.local / name).exists():
                self.fs.get(f"{self.root}/{name}", str(self.local / name), recursive=True)

    def has_report(self, name: str) -> bool:
        return self.fs.exists(f"{self.root}/{name}/report.json")

    def report_location(self, name: str) -> str:
        return f"{self.url}/{name}/report.json"

    def publish(self, *names: str) -> None:
        for name in names:
            source = self.local / name
            files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
            for file in sorted(files, key=lambda p: p.name == "report.json"):  # report.json last: the mark of a whole report
                remote = f"{self.root}/{file.relative_to(self.local).as_posix()}"
                try:
                    self.fs.makedirs(posixpath.dirname(remote), exist_ok=True)  # object stores need none; folders do
                    self.fs.put_file(str(file), remote)
                except OSError as error:
                    raise VadagentError(f"{self.url}: cannot upload {file.relative_to(self.local)}: {error}") from None

    def __str__(self) -> str:
        return self.url


def is_url(output: str) -> bool:
    """Whether `-o` names a URL with a scheme (`s3://…`) rather than a folder."""
    return "://" in output


def destination(output: str) -> Destination:
    """`-o` as given: a folder, or a URL with a scheme (`s3://…`)."""
    return RemoteDestination(output) if is_url(output) else Destination(Path(output))
