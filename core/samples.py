"""The sample clip that ships with vadagent: 36 s of a synthetic footpath, normal for 15 s,
then a fast object (17 s), a wrong-way walker (22 s) and a loiterer (31 s)."""

from __future__ import annotations

import json
from importlib.resources import as_file, files
from pathlib import Path


def sample_clip() -> Path:
    resource = files("vadagent") / "assets" / "sample.mp4"
    with as_file(resource) as path:  # a real file for regular and editable installs
        return Path(path)


def sample_truth() -> dict:
    return json.loads((files("vadagent") / "assets" / "sample.json").read_text(encoding="utf-8"))
