"""The CLI's entry point called in this process: the same code path as the installed `vadagent`
command (argument parsing, settings, one-line errors, exit codes) without an interpreter start-up
per call (seconds each: torch and transformers imports). `tests/test_readme.py` and others run the
installed command itself."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from unittest import mock

from vadagent.app.cli import main


def invoke(*args: object, env: dict[str, str] | None = None, input: str = "") -> subprocess.CompletedProcess:
    """`vadagent ARGS` with `env` added to the environment and `input` as its standard input (not a terminal)."""
    argv = ["vadagent", *map(str, args)]
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.object(sys, "argv", argv), mock.patch.dict(os.environ, env or {}), \
            mock.patch.object(sys, "stdin", io.StringIO(input)), redirect_stdout(out), redirect_stderr(err):
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())
