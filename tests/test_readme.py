"""The README's two commands: CI runs the second verbatim, and the first one's job runs here."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def quick_start() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", text, re.S)
    assert block, "README has no Quick start block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_ci_runs_the_readme_test_command():
    main, tests = quick_start()
    assert tests in (REPO / ".ci" / "run").read_text().splitlines()
    assert main.startswith("bash .ci/setup.sh && ") and tests.startswith("bash .ci/setup.sh --with-browser && ")


def test_the_main_command_runs(tmp_path):
    main, _ = quick_start()
    vadagent = str(Path(sys.executable).with_name("vadagent"))
    for step in main.split(" && ")[1:]:
        args = [vadagent if a == ".venv/bin/vadagent" else a.replace("runs/", f"{tmp_path}/") for a in shlex.split(step)]
        result = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "sample" / "timeline.png").is_file()
