import json
from pathlib import Path

import yaml

from vadagent.config import load_settings, write_run_manifest


def test_precedence_defaults_file_env_overrides(tmp_path, monkeypatch):
    config = tmp_path / "vadagent.yaml"
    config.write_text("video:\n  folder_fps: 10\ncandidates:\n  calls_per_minute: 3\n")
    assert load_settings(config).video.folder_fps == 10
    assert load_settings(config).candidates.min_gap_s == 2.0  # default kept
    monkeypatch.setenv("VADAGENT_VIDEO__FOLDER_FPS", "30")
    settings = load_settings(config)
    assert settings.video.folder_fps == 30 and settings.candidates.calls_per_minute == 3
    assert load_settings(config, video={"folder_fps": 5.0}).video.folder_fps == 5


def test_manifest_records_config_and_versions(tmp_path):
    write_run_manifest(tmp_path, load_settings(), ["vadagent", "score"])
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["video"]["folder_fps"] == 25.0
    versions = json.loads((tmp_path / "versions.json").read_text())
    assert versions["command"] == ["vadagent", "score"] and versions["versions"]["torch"]


def test_every_documented_setting_is_read_by_the_code():
    """A setting nobody reads is silently ignored (as `candidates.min_calls` once was): every field of
    every section must be read as `.field` in a module that also reads `.section`."""
    import re

    from vadagent.config import Settings

    root = Path(__file__).resolve().parents[1]
    sources = [p.read_text(encoding="utf-8") for folder in ("app", "agents", "tools", "evals")
               for p in (root / folder).rglob("*.py")]
    unread = []
    for section, field in Settings.model_fields.items():
        fields = getattr(field.annotation, "model_fields", None)
        for name in fields or [None]:
            pattern = rf"\.{section}\b" if name is None else None
            found = any(re.search(pattern, text) if pattern else
                        re.search(rf"\.{name}\b", text) and re.search(rf"\.{section}\b", text) for text in sources)
            if not found:
                unread.append(f"{section}.{name}" if name else section)
    assert not unread, f"settings no code reads: {unread}"


def test_the_flow_setting_offers_exactly_the_scorer_presets_and_defaults_alike():
    from typing import get_args

    from vadagent.config import ScorerSettings
    from vadagent.tools.scorer import ScorerConfig
    from vadagent.tools.scorer.frames import DEFAULT_FLOW, FLOW_PRESETS

    field = ScorerSettings.model_fields["flow"]
    assert set(get_args(field.annotation)) == set(FLOW_PRESETS)
    assert field.default == DEFAULT_FLOW == ScorerConfig().flow


def test_a_tier_setting_from_the_config_file_reaches_the_scorer_and_an_unknown_one_is_named(tmp_path, monkeypatch):
    """Also: the environment setting one field of a section (the flow) no longer drops the file's
    other settings of that section, as it did."""
    import pytest

    from vadagent.app.scoring import scorer_config
    from vadagent.errors import UsageError
    from vadagent.tools.scorer.tiers import tier_class
    from vadagent.tools.scorer.tiers.base import Geometry

    config = tmp_path / "vadagent.yaml"
    config.write_text("scorer:\n  flow: fine\n  params:\n    objects: {absorb_frames: 500}\n")
    monkeypatch.setenv("VADAGENT_SCORER__FLOW", "half")
    scorer = scorer_config(load_settings(config))
    assert scorer.params == {"objects": {"absorb_frames": 500}} and scorer.flow == "half"
    assert tier_class("objects")(Geometry(180, 120), **scorer.params["objects"]).params.absorb_frames == 500
    config.write_text("scorer:\n  params:\n    objects: {shade: true, adapt: 0.02, max_objects: 12}\n")
    values = scorer_config(load_settings(config)).params["objects"]  # each of its own type, as scorer.json saves it
    assert values == {"shade": True, "adapt": 0.02, "max_objects": 12}
    assert [type(v) for v in values.values()] == [bool, float, int]
    config.write_text("scorer:\n  params:\n    objects: {absorb_seconds: 20}\n")
    with pytest.raises(UsageError, match="unknown setting.*absorb_seconds.*objects.*absorb_frames"):
        scorer_config(load_settings(config))
