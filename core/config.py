"""Settings: defaults < YAML file < environment (VADAGENT_SECTION__KEY) < explicit overrides.

The YAML file is `--config FILE`, else `$VADAGENT_CONFIG`, else `./vadagent.yaml` when present.
"""

from __future__ import annotations

import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from vadagent.errors import UsageError
from vadagent.yamlio import dump_yaml_model, parse_yaml, read_yaml_text


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VideoSettings(_Section):
    folder_fps: float = Field(25.0, gt=0, description="frame rate assumed for a folder of frames")
    chunk_frames: int = Field(64, ge=1, description="frames per chunk in sequential scans")


class ScorerSettings(_Section):
    tiers: list[str] = Field(["motion", "objects"], min_length=1,
                             description="scorer tiers to fuse (with select: the candidates); see 'vadagent fit --help'")
    select: bool | None = Field(None, description="choose tiers and weights by self-validation on held-out normal "
                                                  "footage with synthetic anomalies (unset: with at least 15 s of it)")
    budget_s: float = Field(300.0, gt=0, description="training time of a learned tier, seconds")
    smoothing_sigma: float = Field(3.0, ge=0, description="Gaussian smoothing of scores, in frames (0: none)")
    max_side: int = Field(360, ge=64, description="frames are downscaled so the longer side is at most this")
    flow: Literal["coarse", "quick", "half", "fine", "finest"] = Field(
        "quick", description="optical-flow preset: coarse (fastest), quick (default), half, fine, finest (slowest); "
                            "see evals/results/bench_flow.md")
    device: str = Field("auto", description="torch device for learned tiers: auto, cpu, cuda, mps")
    max_footage_s: float = Field(3600.0, gt=0, description="normal footage beyond this many seconds is fitted on "
                                                           "60 s stretches spread evenly over it, this many in all")
    cover_display: bool = Field(True, description="find a camera's burned-in clock in the normal footage and cover it "
                                                   "in every frame scored (its ticking digits read as fast objects)")
    # bool first: a union tried in order of exact match keeps `shade: true` a bool (under `float | int` it read 1.0)
    params: dict[str, dict[str, bool | int | float]] = Field(
        {}, description="settings of single tiers, by tier: e.g. objects: {absorb_frames: 500} (see each tier's Params)")


class CandidateSettings(_Section):
    calls_per_minute: float = Field(6.0, gt=0, description="VLM-call budget per minute of video")
    min_gap_s: float = Field(2.0, ge=0, description="minimum gap between candidates")
    min_calls: int = Field(1, ge=0, description="candidates per window even below the threshold (a coverage floor, "
                                                "marked below_threshold; a watched camera's: one a window, on calls to "
                                                "spare)")
    window_s: float = Field(30.0, gt=0, description="length of the stretch of video the min_calls floor applies to")
    fill_budget: Literal["auto", "always", "never"] = Field(
        "auto", description="spend the call budget the threshold leaves unused on the highest peaks below it "
                            "(marked below_threshold); auto: only when the scorer was fitted on the video itself")


class VLMSettings(_Section):
    model: str = Field("", description="default --vlm model string")
    timeout_s: float = Field(120.0, gt=0, description="per request")
    max_retries: int = Field(3, ge=0, description="per request, for refusals, timeouts and server errors")
    video_deadline_s: float = Field(600.0, gt=0, description="the whole VLM phase of one video; candidates not judged "
                                                             "by then stay in the report as detected, not explained")
    calls_per_candidate: int = Field(8, ge=1, description="VLM requests one video may send per candidate, retries "
                                                          "included (the client counts them); past it the rest stay detected")
    concurrency: int = Field(4, ge=1)
    load_in_background: bool = Field(True, description="load an in-process (hf:) model while the scorer fits and "
                                                       "scores; off: load it first (a GPU without memory for both)")
    max_image_side: int = Field(768, ge=32)
    max_video_frames: int = Field(16, ge=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VADAGENT_", env_nested_delimiter="__", extra="forbid")

    video: VideoSettings = Field(default_factory=VideoSettings)
    scorer: ScorerSettings = Field(default_factory=ScorerSettings)
    candidates: CandidateSettings = Field(default_factory=CandidateSettings)
    vlm: VLMSettings = Field(default_factory=VLMSettings)
    taxonomy: str = "generic"
    quiet: bool = False

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init (explicit overrides and the YAML file, merged by `load_settings`) beats the environment.
        return init_settings, env_settings


def _deep_merge(base: dict, top: dict) -> dict:
    merged = dict(base)
    for key, value in top.items():
        merged[key] = _deep_merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def _not_set_by_env(data: dict) -> dict:
    """The file's settings less those the environment sets: a field (VADAGENT_SCORER__FLOW) drops that
    field of the section only, so the file's other settings of the section still apply; a whole
    section (VADAGENT_SCORER as JSON) drops the section."""
    kept = dict(data)
    for key in os.environ:
        if not key.startswith("VADAGENT_") or key == "VADAGENT_CONFIG":
            continue
        section, _, name = key[len("VADAGENT_") :].lower().partition("__")
        if not name:
            kept.pop(section, None)
        elif isinstance(kept.get(section), dict):
            kept[section] = {k: v for k, v in kept[section].items() if k != name.split("__")[0]}
    return kept


def load_settings(config_file: Path | None = None, **overrides: object) -> Settings:
    """Resolve settings. The environment overrides the YAML file; `overrides` override both."""
    path = config_file or (Path(os.environ["VADAGENT_CONFIG"]) if os.environ.get("VADAGENT_CONFIG") else None)
    if path is None and Path("vadagent.yaml").is_file():
        path = Path("vadagent.yaml")
    from_file: dict = {}
    if path is not None:
        if not path.is_file():
            raise UsageError(f"{path}: config file not found")
        data = parse_yaml(read_yaml_text(path), str(path)) or {}
        if not isinstance(data, dict):
            raise UsageError(f"{path}: expected a mapping of settings")
        # Environment variables must win over the file, which is passed as init values (above them)
        from_file = _not_set_by_env(dict(data))
    try:
        return Settings(**_deep_merge(from_file, {k: v for k, v in overrides.items() if v is not None}))
    except Exception as exc:  # pydantic ValidationError: a bad setting is the user's to fix
        raise UsageError(f"invalid settings{f' in {path}' if path else ''}: {exc}".replace("\n", " ")) from None


PACKAGES = ("vadagent", "torch", "torchvision", "transformers", "av", "opencv-python-headless", "numpy",
            "pydantic", "langgraph", "xgrammar", "decord")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_run_manifest(out_dir: Path, settings: Settings, command: list[str] | None = None) -> None:
    """Write the resolved config and package versions next to a command's output."""
    out_dir.mkdir(parents=True, exist_ok=True)
    dump_yaml_model(settings, out_dir / "config.yaml")
    manifest = {"command": command or [], "versions": package_versions()}
    (out_dir / "versions.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
