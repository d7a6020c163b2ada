"""Errors a user can act on. Each carries a one-line message that names the fix."""

from __future__ import annotations


class VadagentError(Exception):
    """Base class: the CLI prints the message on one line and exits with `exit_code`."""

    exit_code = 1


class UsageError(VadagentError):
    """Bad input from the user: a missing file, an unknown name, a malformed config."""

    exit_code = 2


class VideoError(UsageError):
    """A video source that cannot be opened or decoded."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self) -> tuple:  # rebuilt from its own arguments where it crosses processes (a pool, Ray)
        return type(self), (self.path, self.problem)


class ArtifactError(UsageError):
    """A saved artefact (scorer, rule set, report) that is corrupt or of another version."""


class MissingExtraError(UsageError):
    """An optional dependency is not installed."""

    def __init__(self, what: str, extra: str) -> None:
        self.what, self.extra = what, extra
        super().__init__(f"{what} needs the '{extra}' extra: pip install 'vadagent[{extra}]'")

    def __reduce__(self) -> tuple:
        return type(self), (self.what, self.extra)


def validation_summary(error: object, limit: int = 3) -> str:
    """A pydantic ValidationError on one line: each field and what is wrong with it."""
    items = error.errors()  # type: ignore[attr-defined]
    parts = [f"{'.'.join(str(p) for p in item['loc']) or '(top level)'}: {item['msg']}" for item in items[:limit]]
    return "; ".join(parts) + (f" (+{len(items) - limit} more)" if len(items) > limit else "")
