"""Model strings → clients: `vllm:MODEL@URL`, `openai:MODEL@URL`, `hf:MODEL_OR_PATH`, `replay:FILE`;
`vllm:MODEL@URL1,URL2,…` spreads requests over a pool of servers of one model."""

from __future__ import annotations

from collections.abc import Callable

from vadagent.tools.vlm.base import VLMClient
from vadagent.tools.vlm.media import MediaLimits
from vadagent.tools.vlm.types import ModelSpecError

FORMS = {
    "vllm": "vllm:MODEL@URL (a `vllm serve` server, e.g. vllm:Qwen/Qwen2.5-VL-7B-Instruct@http://localhost:8000/v1; "
            "several: MODEL@URL1,URL2)",
    "openai": "openai:MODEL@URL (any OpenAI-compatible server: SGLang, llama.cpp, Ollama, a hosted API)",
    "hf": "hf:MODEL_OR_PATH (in-process transformers, e.g. hf:HuggingFaceTB/SmolVLM2-500M-Video-Instruct)",
    "replay": "replay:FILE (answers recorded in a JSONL file)",
}
DEFAULT_LOCAL_MODEL = "hf:HuggingFaceTB/SmolVLM2-500M-Video-Instruct"
DEFAULT_SERVER_MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"

Factory = Callable[..., VLMClient]
_BACKENDS: dict[str, Factory] = {}


def register_backend(kind: str, factory: Factory) -> None:
    if kind in _BACKENDS:
        raise ValueError(f"VLM backend {kind!r} is already registered")
    _BACKENDS[kind] = factory


def _error(spec: str, problem: str) -> ModelSpecError:
    forms = "; ".join(FORMS.get(k, f"{k}:…") for k in _BACKENDS)
    return ModelSpecError(f"{problem} in model string {spec!r}; valid forms: {forms}")


def _server(kind: str) -> Factory:
    def make(rest: str, spec: str, **options) -> VLMClient:
        from vadagent.tools.vlm.http import OpenAICompatibleClient

        model, sep, urls = rest.rpartition("@")
        endpoints = [u.strip() for u in urls.split(",") if u.strip()]
        if not sep or not model or not endpoints or not all(u.startswith(("http://", "https://")) for u in endpoints):
            raise _error(spec, "expected MODEL@http(s)://HOST:PORT/v1 (or MODEL@URL1,URL2,…)")
        if len(endpoints) != len(set(endpoints)):
            raise _error(spec, "an endpoint is listed twice")
        if len(endpoints) == 1:
            return OpenAICompatibleClient(model, endpoints[0], flavor=kind, **options)
        from vadagent.tools.vlm.pool import EndpointPool

        retries = options.pop("max_retries", 3)  # the pool retries, on another endpoint where it can
        return EndpointPool([OpenAICompatibleClient(model, url, flavor=kind, max_retries=0, **options) for url in endpoints],
                            attempts=len(endpoints) * (retries + 1))
    return make


def _hf(rest: str, spec: str, **options) -> VLMClient:
    from vadagent.tools.vlm.local import TransformersClient

    server_only = {"timeout_s", "max_retries", "concurrency", "api_key"}
    return TransformersClient(rest, **{k: v for k, v in options.items() if k not in server_only})


def _replay(rest: str, spec: str, **options) -> VLMClient:
    from vadagent.tools.vlm.replay import ReplayClient

    keep = {"limits", "validation_retries"}
    return ReplayClient(rest, **{k: v for k, v in options.items() if k in keep})


register_backend("vllm", _server("vllm"))
register_backend("openai", _server("openai"))
register_backend("hf", _hf)
register_backend("replay", _replay)


def loads_in_process(spec: str) -> bool:
    """Whether a model string names a model loaded into this process (`hf:MODEL`), the one kind whose
    setting-up takes long (imports and weights); servers and replays are only connected to or read."""
    kind, _, rest = spec.partition(":")
    return kind == "hf" and bool(rest)


def make_client(spec: str, **options) -> VLMClient:
    """A client for a model string. Options (timeout_s, max_retries, concurrency, limits, …) are
    passed to backends that take them."""
    kind, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise _error(spec, "missing 'KIND:'")
    if kind not in _BACKENDS:
        raise _error(spec, f"unknown kind {kind!r}")
    return _BACKENDS[kind](rest, spec, **options)


def chosen_model(spec: str | None, settings) -> str:
    """The model string a command uses: the one given (`--vlm`), else the settings' (`VLMSettings.model`),
    else the default in-process model."""
    return spec or settings.model or DEFAULT_LOCAL_MODEL


def client_from_settings(spec: str, settings) -> VLMClient:
    """`settings` is a `VLMSettings`."""
    return make_client(spec, limits=MediaLimits(settings.max_image_side, settings.max_video_frames),
                       timeout_s=settings.timeout_s, max_retries=settings.max_retries, concurrency=settings.concurrency)
