"""How vadagent's log lines look, set up alike in the CLI's process and in the processes it starts."""

from __future__ import annotations

import logging
import sys

LINE = "%(levelname)s %(name)s: %(message)s"


def setup_logging(level: int) -> None:
    logging.basicConfig(level=level, format=LINE, stream=sys.stderr, force=True)
