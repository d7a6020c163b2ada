"""`vadagent doctor`: offline checks of the installation, each a named pass/fail with detail."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class Check:
    name: str
    ok: bool | None  # None: a note, which passes
    detail: str


def _decoders() -> str:
    import av
    import cv2

    from vadagent.samples import sample_clip
    from vadagent.tools.video import open_video

    with open_video(sample_clip()) as video:
        frames = sum(len(b) for b in video.scan(gray=True))
        picked = video.read([0, video.info.frame_count // 2, video.info.frame_count - 1])
    if frames != video.info.frame_count or len(picked) != 3:
        raise RuntimeError(f"sample clip decoded {frames}/{video.info.frame_count} frames")
    try:
        import decord

        extra = f", decord {decord.__version__}"
    except ImportError:
        extra = ", decord not installed (optional)"
    return f"PyAV {av.__version__} (FFmpeg), OpenCV {cv2.__version__}{extra}; sample clip: {frames} frames"


def _torch() -> str:
    import torch

    from vadagent.devices import pick_device

    device = pick_device()
    x = torch.randn(4, 1, 32, 32, device=device)
    y = torch.nn.functional.conv2d(x, torch.randn(2, 1, 3, 3, device=device))
    if not torch.isfinite(y).all():
        raise RuntimeError("a convolution gave non-finite values")
    return f"torch {torch.__version__} on {device}"


def _tiny_vlm() -> str:
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from vadagent.tools.vlm.tiny import build_tiny_vlm

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vadagent-doctor-") as folder:
        build_tiny_vlm("qwen2_5_vl", folder)
        processor = AutoProcessor.from_pretrained(folder)
        model = AutoModelForImageTextToText.from_pretrained(folder)
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe."}]}]
        prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
        image = Image.fromarray(np.full((64, 64, 3), 127, np.uint8))
        inputs = processor(text=[prompt], images=[image], return_tensors="pt")
        out = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    new = out.shape[1] - inputs["input_ids"].shape[1]
    return f"tiny Qwen2.5-VL built, loaded with from_pretrained, generated {new} tokens in {time.perf_counter() - start:.1f} s"


def _vlm(spec: str, settings) -> Callable[[], str]:
    def check() -> str:
        from vadagent.tools.vlm import Image, Message, Sampling, client_from_settings, run_sync

        client = client_from_settings(spec, settings.vlm)
        models = getattr(client, "models", None)
        served = f"serves {', '.join(run_sync(models()))}; " if models is not None else ""
        image = np.full((64, 64, 3), 127, np.uint8)
        result = client.generate([Message.user(Image(image), "Describe this image in one sentence.")],
                                 sampling=Sampling(max_tokens=16))
        return (f"{client.model}: {served}answered {result.usage.completion_tokens} tokens in "
                f"{result.usage.latency_s:.2f} s: {result.text[:60]!r}")
    return check


def _default_model(settings) -> Check:
    """Where the model `explain` uses by default would come from (not loaded): a machine without it still
    explains nothing, and `explain` says so only after scoring."""
    from vadagent.tools.vlm import VLMUnavailable
    from vadagent.tools.vlm.local import locate
    from vadagent.tools.vlm.spec import DEFAULT_LOCAL_MODEL, chosen_model, loads_in_process

    spec = chosen_model(None, settings.vlm) if settings is not None else DEFAULT_LOCAL_MODEL
    name = "model explain uses"
    if not loads_in_process(spec):
        return Check(name, None, f"{spec}; `vadagent doctor --vlm {spec}` checks that it answers")
    try:
        where = locate(spec.partition(":")[2])
    except VLMUnavailable as error:
        return Check(name, None, f"{error}; without it, explain and report write detection-only reports (exit 3)")
    found = {"folder": "a local folder", "cache": "in the Hugging Face cache",
             "hub": "not cached yet: downloaded from huggingface.co on first use"}[where]
    return Check(name, None, f"{spec}: {found}; `vadagent doctor --vlm {spec}` loads it and asks it")


CHECKS: dict[str, Callable[[], str]] = {"video decoders": _decoders, "torch": _torch, "tiny VLM": _tiny_vlm}


def run_checks(vlm: str | None = None, settings=None) -> list[Check]:
    results = []
    checks = dict(CHECKS)
    if vlm is not None:
        from vadagent.tools.vlm import make_client  # a malformed model string is a usage error, not a failed check

        if not vlm.startswith(("hf:", "vllm:", "openai:", "replay:")):
            make_client(vlm)
        checks[f"VLM {vlm}"] = _vlm(vlm, settings)
    for name, check in checks.items():
        try:
            results.append(Check(name, True, check()))
        except Exception as exc:  # a doctor reports every failure, it does not stop at the first
            results.append(Check(name, False, f"{type(exc).__name__}: {exc}"))
    if vlm is None:
        results.append(_default_model(settings))
    return results
