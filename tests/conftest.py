"""Shared fixtures: synthetic clips with known anomalies, tiny real-architecture VLMs, real data, a watched camera's site."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from per_run import once_per_run

from vadagent.tools.synthetic import ClipSpec, ClipTruth, render_clip

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VADAGENT_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing in a test may download
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Commands run in tests (subprocess or in-process) score with the coarse optical-flow preset, a real
# setting and faster than the default `quick`: they test batches, outages, chat, the UI,
# not the flow. The default flow is what the scorer tests use (the API's ScorerConfig()) and what
# the README's main command runs (test_readme), and what evals/ measures.
os.environ.setdefault("VADAGENT_SCORER__FLOW", "coarse")
# For the same reason they fit without self-validation, which is on by default from 15 s of normal
# footage and would triple their fitting time; the scorer tests and the README's main command
# (test_readme) run it as shipped.
os.environ.setdefault("VADAGENT_SCORER__SELECT", "false")
# The README's test command runs two xdist workers on two cores, and each worker, and each command a
# test starts, would give torch's and the BLAS libraries' OpenMP one thread per core: twice the cores,
# and OpenMP's idle threads spin while they wait. One thread each: test_vlm_local.py and test_tiny_vlm.py
# took 61 s of CPU (43 s) against 140 (76 s) with the default (ad hoc, two workers).
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` (real datasets); tests using it skip cleanly where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def ped2(shared_data: Path) -> Path:
    root = shared_data / "ucsd_ped2"
    if not (root / "testing" / "frames").is_dir():
        pytest.skip(f"UCSD Ped2 not found at {root}")
    return root


@pytest.fixture(scope="session")
def robbery(shared_data: Path) -> Path:
    path = shared_data / "clips" / "robbery.mp4"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


def rendered(tmp_path_factory: pytest.TempPathFactory, name: str, spec: ClipSpec) -> tuple[Path, ClipTruth]:
    """`spec` rendered to NAME.mp4 once per run (its truth beside it), shared by the workers."""
    folder = once_per_run(tmp_path_factory, name, lambda f: render_clip(spec, f / f"{name}.mp4").save(f / "truth.json"))
    return folder / f"{name}.mp4", ClipTruth.load(folder / "truth.json")


@pytest.fixture(scope="session")
def synthetic_normal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 s of normal footage of the synthetic footpath."""
    return rendered(tmp_path_factory, "normal", ClipSpec(seconds=20, seed=1))[0]


@pytest.fixture(scope="session")
def synthetic_anomalous(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ClipTruth]:
    """16 s of the same footpath with a fast object, a wrong-way walker and a loiterer."""
    return rendered(tmp_path_factory, "anomalous",
                    ClipSpec(seconds=16, seed=2, anomalies=[("fast", 2.0), ("wrong_way", 6.0), ("loiter", 9.0)]))


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory):
    """Factory: a folder holding a tiny random VLM of the given architecture, built once per run."""
    from vadagent.tools.vlm.tiny import build_tiny_vlm

    def make(arch: str = "qwen2_5_vl") -> Path:
        return once_per_run(tmp_path_factory, f"tiny_{arch}", lambda folder: build_tiny_vlm(arch, folder))

    return make


@pytest.fixture(scope="session")
def sample_scorer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`vadagent fit` of the sample clip's first 15 s, as the commands in tests fit (see above), made
    once per run for the tests whose point is what comes after the fit."""
    from inprocess import invoke

    from vadagent.samples import sample_clip

    def make(folder: Path) -> None:
        fitted = invoke("-q", "fit", f"{sample_clip()}#t=0,15", "-o", folder / "scorer")
        assert fitted.returncode == 0, fitted.stderr

    return once_per_run(tmp_path_factory, "sample_scorer", make) / "scorer"


@pytest.fixture(scope="session")
def synthetic_scorer(tmp_path_factory: pytest.TempPathFactory, synthetic_normal: Path) -> Path:
    """A scorer folder fitted on `synthetic_normal` with every default tier (no self-validation), made
    once per run for the tests that need a site's saved scorer, not a fit of their own."""
    from vadagent.tools.scorer import Scorer, ScorerConfig, SourceSpec

    def make(folder: Path) -> None:
        Scorer.fit([SourceSpec(str(synthetic_normal))], ScorerConfig(select=False)).save(folder / "scorer")

    return once_per_run(tmp_path_factory, "synthetic_scorer", make) / "scorer"


@pytest.fixture(scope="module")
def fitted(synthetic_scorer: Path):
    """`synthetic_scorer` loaded, once a module: the default tier set fitted on `synthetic_normal` without
    self-validation, as each worker would have made it (test_scorer's save/load round trip fits its own)."""
    from vadagent.tools.scorer import Scorer

    return Scorer.load(synthetic_scorer)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ClipTruth]:
    """A camera's normal footage, its fitted scorer, 8 s of it with a fast object, and a replay judge (read only)."""
    from watching import make_site  # the CLI's import with it, for the watch's tests alone

    folder = once_per_run(tmp_path_factory, "watch_site", make_site)
    return folder, ClipTruth.load(folder / "truth.json")


@pytest.fixture(scope="module")
def long_camera(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 s of a camera with two anomalies early on: read to its end, its ring (17 s) no longer holds them.
    Fewer walkers than the site's footage: at its rate, the 12 s fit flags six one-frame moments of walkers
    after them, each waiting 10 s for its turn (the camera's budget), the last near --max-wait (60 s)."""
    spec = ClipSpec(seconds=30, seed=3, walkers_per_second=0.4, anomalies=[("fast", 2.0), ("fast", 7.0)])
    return once_per_run(tmp_path_factory, "long_camera", lambda f: render_clip(spec, f / "camera2.mp4")) / "camera2.mp4"
