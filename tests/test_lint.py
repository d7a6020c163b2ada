"""The code base passes its own linter settings (pyproject [tool.ruff]): unused names, import
order, likely bugs (flake8-bugbear)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ruff_passes():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "agents", "app", "core", "tools", "evals", "tests",
                             "prompts"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
