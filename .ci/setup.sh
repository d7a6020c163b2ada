#!/usr/bin/env bash
# Set up a fresh clone: a virtual environment in .venv with everything vadagent and its tests
# need. torch and torchvision go first, from this machine's disk (pinned to the releases that
# lie there), so nothing later pulls another multi-GB build. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.14.1" "torchvision==0.29.1"
.venv/bin/python -m pip install --quiet -e ".[dev]"
