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


def test_every_source_folder_is_packaged():
    """pyproject lists the import packages by hand (the design card's folders map onto one `vadagent`
    package): a folder left out installs fine in editable mode and is missing from the wheel."""
    import tomllib

    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapped = {REPO / folder for folder in setuptools["package-dir"].values()}
    folders = {init.parent for init in REPO.glob("[!.]*/**/__init__.py")
               if not {"tests", "build", "dist"} & set(init.relative_to(REPO).parts)}
    assert folders <= mapped, f"not in pyproject's package-dir: {sorted(map(str, folders - mapped))}"
    assert set(setuptools["package-dir"]) <= set(setuptools["packages"])
