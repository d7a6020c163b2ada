"""VLM clients behind one interface: vLLM / OpenAI-compatible HTTP, in-process transformers, replay."""

from vadagent.tools.vlm.base import VLMClient, run_sync
from vadagent.tools.vlm.media import MediaLimits
from vadagent.tools.vlm.spec import client_from_settings, make_client
from vadagent.tools.vlm.types import (
    CallBudget,
    Image,
    Message,
    ModelSpecError,
    Sampling,
    Text,
    Usage,
    Video,
    VLMBudgetError,
    VLMError,
    VLMOutputError,
    VLMResult,
    VLMUnavailable,
)

__all__ = ["CallBudget", "Image", "MediaLimits", "Message", "ModelSpecError", "Sampling", "Text", "Usage",
           "VLMBudgetError", "VLMClient", "VLMError", "VLMOutputError", "VLMResult", "VLMUnavailable", "Video",
           "client_from_settings", "make_client", "run_sync"]
