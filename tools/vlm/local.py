"""In-process transformers client: the embedded default, no server needed.

Loads any `AutoModelForImageTextToText` model with its processor, picks the device (CUDA, MPS,
CPU), batches several prompts into one `generate`, and constrains decoding to the output type's
JSON schema with xgrammar (the engine vLLM uses for structured outputs).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from pathlib import Path

import numpy as np

from vadagent.devices import pick_device
from vadagent.tools.vlm.base import VLMClient
from vadagent.tools.vlm.media import MediaLimits, frame_label, to_pil, video_label
from vadagent.tools.vlm.types import Completion, Image, Message, Sampling, Text, Usage, Video, VLMError, VLMUnavailable

log = logging.getLogger(__name__)


class TransformersClient(VLMClient):
    def __init__(self, model_id: str, *, device: str = "auto", batch_size: int = 8, limits: MediaLimits | None = None,
                 validation_retries: int = 2) -> None:
        super().__init__(limits, validation_retries)
        self.model = f"hf:{model_id}"
        self.device = pick_device(device)
        self.batch_size = batch_size
        self._lock = threading.Lock()  # one generate at a time per loaded model
        self._grammars: dict[str, object] = {}
        self.processor, self.network = _load(model_id, self.device)
        self.processor.tokenizer.padding_side = "left"
        self._token_info = None

    # -- prompts --------------------------------------------------------------------------------
    def _chat(self, messages: list[Message]) -> tuple[list[dict], list, list[np.ndarray], list[dict]]:
        chat, images, videos, metadata = [], [], [], []
        for message in messages:
            content: list[dict] = []
            for part in message.parts:
                if isinstance(part, Text):
                    content.append({"type": "text", "text": part.text})
                elif isinstance(part, Image):
                    if part.time_s is not None:
                        content.append({"type": "text", "text": frame_label(part.time_s)})
                    content.append({"type": "image"})
                    images.append(to_pil(part.pixels))
                elif isinstance(part, Video):
                    content.append({"type": "text", "text": video_label(part)})
                    content.append({"type": "video"})
                    videos.append(np.stack(part.frames))
                    metadata.append({"fps": part.fps, "total_num_frames": len(part.frames),
                                     "frames_indices": list(range(len(part.frames)))})
            chat.append({"role": message.role, "content": content})
        return chat, images, videos, metadata

    def _inputs(self, conversations: list[list[Message]]):
        prompts, images, videos, metadata = [], [], [], []
        for messages in conversations:
            chat, imgs, vids, meta = self._chat(messages)
            prompts.append(self.processor.apply_chat_template(chat, add_generation_prompt=True, tokenize=False))
            images.append(imgs)
            videos += vids
            metadata += meta
        kwargs: dict = {"text": prompts, "padding": True, "return_tensors": "pt"}
        if any(images):
            kwargs["images"] = images
        if videos:
            kwargs["videos"] = videos
            kwargs["videos_kwargs"] = {"video_metadata": metadata, "do_sample_frames": False}
        return self.processor(**kwargs).to(self.device)

    # -- constrained decoding -------------------------------------------------------------------
    def _grammar(self, schema: dict):
        import xgrammar

        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            if self._token_info is None:
                vocab = self.network.config.get_text_config().vocab_size
                self._token_info = xgrammar.TokenizerInfo.from_huggingface(self.processor.tokenizer, vocab_size=vocab)
            # Compact JSON: with free whitespace a weak model can emit newlines until max_tokens.
            self._grammars[key] = xgrammar.GrammarCompiler(self._token_info).compile_json_schema(key, any_whitespace=False)
        return self._grammars[key]

    # -- generation -----------------------------------------------------------------------------
    def _generate(self, conversations: list[list[Message]], schema: dict | None, sampling: Sampling,
                  streamer=None) -> list[Completion]:
        import torch
        from xgrammar.contrib.hf import LogitsProcessor

        started = time.perf_counter()
        inputs = self._inputs(conversations)
        processors = [LogitsProcessor(self._grammar(schema))] if schema is not None else None  # fresh per generate
        kwargs = {"max_new_tokens": sampling.max_tokens, "do_sample": sampling.temperature > 0,
                  "logits_processor": processors, "pad_token_id": self.processor.tokenizer.pad_token_id}
        if sampling.temperature > 0:
            kwargs |= {"temperature": sampling.temperature, "top_p": sampling.top_p}
        if streamer is not None:
            kwargs["streamer"] = streamer
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        with self._lock, torch.inference_mode():
            output = self.network.generate(**inputs, **kwargs)
        new = output[:, inputs["input_ids"].shape[1]:]
        texts = self.processor.batch_decode(new, skip_special_tokens=True)
        latency = (time.perf_counter() - started) / len(conversations)
        pad = self.processor.tokenizer.pad_token_id
        prompt_tokens = inputs["attention_mask"].sum(1).tolist()
        return [Completion(text, Usage(int(p), int((row != pad).sum()), latency))
                for text, p, row in zip(texts, prompt_tokens, new)]

    async def _complete_streaming(self, messages: list[Message], schema: dict | None, sampling: Sampling,
                                  on_text) -> Completion | VLMError:
        """Tokens reach `on_text` as `generate` produces them (transformers' TextStreamer hook), posted
        to the caller's event loop since generation runs in a worker thread."""
        from transformers import TextStreamer

        loop = asyncio.get_running_loop()

        class _ToCallback(TextStreamer):
            text = ""

            def on_finalized_text(self, piece: str, stream_end: bool = False) -> None:
                if piece:
                    self.text += piece
                    loop.call_soon_threadsafe(on_text, self.text)

        streamer = _ToCallback(self.processor.tokenizer, skip_prompt=True, skip_special_tokens=True)
        try:
            (answer,) = await asyncio.to_thread(self._generate, [messages], schema, sampling, streamer)
        except (RuntimeError, ValueError) as error:
            return VLMError(f"{self.model}: generation failed: {error}")
        on_text(answer.text)  # the decoded whole, in case the streamed pieces differ in spacing
        return answer

    async def _complete_batch(self, conversations: list[list[Message]], schema: dict | None,
                              sampling: Sampling) -> list[Completion | VLMError]:
        results: list[Completion | VLMError] = []
        for start in range(0, len(conversations), self.batch_size):
            batch = conversations[start : start + self.batch_size]
            try:
                results += await asyncio.to_thread(self._generate, batch, schema, sampling)
            except (RuntimeError, ValueError) as error:  # e.g. out of memory, a processor refusing input
                results += [VLMError(f"{self.model}: generation failed: {error}")] * len(batch)
        return results


def locate(model_id: str) -> str:
    """Where `hf:model_id` loads from: "folder", "cache" (the Hugging Face cache) or "hub" (downloaded
    first); VLMUnavailable, saying why and what to do, where it cannot be loaded from here. Quick, and
    imports neither torch nor transformers (`vadagent doctor` asks it too)."""
    if Path(model_id).expanduser().is_dir():
        return "folder"
    if model_id.startswith(("/", ".", "~")):
        raise VLMUnavailable(f"hf:{model_id}: cannot load the model: no such folder")
    if not _valid_repo_id(model_id):
        raise VLMUnavailable(f"hf:{model_id}: cannot load the model: neither a folder nor a Hugging Face model id "
                             "(NAMESPACE/NAME)")
    if _cached(model_id):
        return "cache"
    if not _hub_reachable():
        raise VLMUnavailable(
            f"hf:{model_id}: cannot load the model: it is not in the Hugging Face cache and huggingface.co cannot be "
            f"reached from here; {fetch_hint(model_id)}")
    return "hub"


def fetch_hint(model_id: str) -> str:
    """What to do where `model_id` cannot be fetched: huggingface_hub 1.0 replaced `huggingface-cli` by `hf`."""
    return (f"fetch it on a connected machine with `hf download {model_id} --local-dir DIR`, copy DIR here and use "
            "--vlm hf:DIR, or point --vlm at a server (vllm:MODEL@URL)")


def _load(model_id: str, device: str):
    where = locate(model_id)
    local = where == "folder"
    if where == "hub":
        log.warning("downloading %s to the Hugging Face cache (once; a 500M-parameter model is about 1 GB)", model_id)
    # imported only once a model is there to load: they take 10 s, and a missing model is said at once
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(model_id)
        dtype = torch.bfloat16 if device == "cuda" else torch.float32
        network = AutoModelForImageTextToText.from_pretrained(model_id, dtype=dtype).to(device).eval()
    except Exception as error:  # noqa: BLE001 - any load failure (missing files, unknown architecture, bad weights) means no VLM, said in one line
        reason = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        how = (f"the folder does not hold a loadable transformers model ({reason})" if local else
               f"it is not in the Hugging Face cache and cannot be downloaded here ({str(error).splitlines()[0][:160]}); "
               + fetch_hint(model_id))
        raise VLMUnavailable(f"hf:{model_id}: cannot load the model: {how}") from None
    return processor, network


def _valid_repo_id(model_id: str) -> bool:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(model_id)
    except HFValidationError:
        return False
    return True


def _cached(model_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(model_id, "config.json"), str)


def _hub_reachable(timeout_s: float = 3.0) -> bool:
    """One quick probe, so an offline machine fails in seconds instead of minutes of hub retries."""
    import os
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}:
        return False
    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True  # behind a proxy a direct probe proves nothing; let the hub client try
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout_s).close()
    except OSError:
        return False
    return True
