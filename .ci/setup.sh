#!/usr/bin/env bash
# Set up a fresh clone: a virtual environment in .venv with everything vadagent and its tests
# need. torch and torchvision go first, from this machine's disk (pinned to the releases that
# lie there), so nothing later pulls another multi-GB build. Safe to run again.
#   --with-browser  also install Debian's Chromium (for the browser tests), when run as root with apt.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--with-browser" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium not installed and no root apt-get here: the browser tests will be skipped" >&2
  fi
fi
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.14.1" "torchvision==0.29.1"
.venv/bin/python -m pip install --quiet -e ".[dev]"
