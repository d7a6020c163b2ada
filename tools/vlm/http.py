"""OpenAI-compatible HTTP client: `vllm serve` (production), SGLang, llama.cpp, Ollama, hosted APIs.

Requests run concurrently up to `concurrency`, so vLLM can batch them. Timeouts, 429, 5xx and
refused connections are retried with exponential backoff a bounded number of times; every
answer is validated by `VLMClient` whatever the server promises about structured output.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import ssl
import time
import weakref
from typing import Literal

import httpx

from vadagent.tools.vlm.base import VLMClient, per_loop
from vadagent.tools.vlm.media import MediaLimits, frame_label, jpeg_data_url, mp4_data_url, video_label
from vadagent.tools.vlm.types import (
    Completion,
    Image,
    Message,
    Sampling,
    Text,
    Usage,
    Video,
    VLMError,
    VLMUnavailable,
)

log = logging.getLogger(__name__)
Flavor = Literal["vllm", "openai"]
RETRY_STATUS = {408, 429, 500, 502, 503, 504}


class OpenAICompatibleClient(VLMClient):
    def __init__(self, model_name: str, base_url: str, *, flavor: Flavor = "openai", api_key: str | None = None,
                 timeout_s: float = 120.0, max_retries: int = 3, backoff_s: float = 0.5, concurrency: int = 4,
                 video_mode: Literal["frames", "video_url"] = "frames", limits: MediaLimits | None = None,
                 validation_retries: int = 2) -> None:
        super().__init__(limits, validation_retries)
        self.model_name, self.base_url, self.flavor = model_name, base_url.rstrip("/"), flavor
        self.model = f"{flavor}:{model_name}@{self.base_url}"
        self.api_key = api_key if api_key is not None else os.environ.get("VADAGENT_API_KEY", "")
        self.timeout_s, self.max_retries, self.backoff_s = timeout_s, max_retries, backoff_s
        self.concurrency, self.video_mode = concurrency, video_mode
        self.capacity = concurrency
        self._tls: ssl.SSLContext | None = None  # built once: it costs ~20 ms, more than a local call
        # Per event loop (httpx clients and semaphores belong to the loop they first ran on): one
        # connection pool for the client's life, and one gate that bounds all its calls.
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, asyncio.Semaphore]] = \
            weakref.WeakKeyDictionary()

    # -- the request body (pinned by tests against vLLM's documented format) ----------------------
    def request_body(self, messages: list[Message], schema: dict | None, sampling: Sampling) -> dict:
        body: dict = {
            "model": self.model_name,
            "messages": [self._message(m) for m in messages],
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if schema is not None:
            if self.flavor == "vllm":  # vLLM >= 0.12: the structured-outputs extra body field
                body["structured_outputs"] = {"json": schema}
            else:  # the OpenAI form, which vLLM, SGLang and llama.cpp also accept
                body["response_format"] = {"type": "json_schema",
                                           "json_schema": {"name": "answer", "schema": schema, "strict": True}}
        return body

    def _message(self, message: Message) -> dict:
        if all(isinstance(p, Text) for p in message.parts):
            return {"role": message.role, "content": message.text}
        content: list[dict] = []
        for part in message.parts:
            if isinstance(part, Text):
                content.append({"type": "text", "text": part.text})
            elif isinstance(part, Image):
                if part.time_s is not None:
                    content.append({"type": "text", "text": frame_label(part.time_s)})
                content.append({"type": "image_url", "image_url": {"url": jpeg_data_url(part.pixels, self.limits.jpeg_quality)}})
            elif isinstance(part, Video) and self.video_mode == "video_url":
                content.append({"type": "text", "text": video_label(part)})
                content.append({"type": "video_url", "video_url": {"url": mp4_data_url(part)}})
            elif isinstance(part, Video):
                for frame, time_s in zip(part.frames, part.times_s):
                    content.append({"type": "text", "text": frame_label(time_s)})
                    content.append({"type": "image_url", "image_url": {"url": jpeg_data_url(frame, self.limits.jpeg_quality)}})
        return {"role": message.role, "content": content}

    # -- transport ------------------------------------------------------------------------------
    def _new_client(self) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=self.timeout_s, limits=limits,
                                 verify=self._tls)

    def _pool(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        return per_loop(self._pools, lambda: (self._new_client(), asyncio.Semaphore(self.concurrency)))

    async def aclose(self) -> None:
        """Close this loop's connection pool (others close with their loops)."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool[0].aclose()

    async def _complete_batch(self, conversations: list[list[Message]], schema: dict | None,
                              sampling: Sampling) -> list[Completion | VLMError]:
        client, gate = self._pool()

        async def one(messages: list[Message]) -> Completion | VLMError:
            async with gate:
                try:
                    return await self._post(client, self.request_body(messages, schema, sampling))
                except VLMError as error:
                    return error
        return list(await asyncio.gather(*(one(c) for c in conversations)))

    async def _complete_streaming(self, messages: list[Message], schema: dict | None, sampling: Sampling,
                                  on_text) -> Completion | VLMError:
        """Server-sent events (`stream: true`), as vLLM and OpenAI-compatible servers send them."""
        client, gate = self._pool()
        body = self.request_body(messages, schema, sampling) | {"stream": True, "stream_options": {"include_usage": True}}
        async with gate:
            try:
                return await self._post(client, body, on_text)
            except VLMError as error:
                return error

    async def _post(self, client: httpx.AsyncClient, body: dict, on_text=None) -> Completion:
        problem = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                await asyncio.sleep(min(self.backoff_s * 2 ** (attempt - 1), 8.0) * (0.8 + 0.4 * random.random()))
            started = time.perf_counter()
            try:
                if on_text is not None:
                    return await self._read_stream(client, body, on_text, started, attempt)
                response = await client.post("/chat/completions", json=body)
                if response.status_code in RETRY_STATUS:
                    problem = f"HTTP {response.status_code}: {response.text[:200]}"
                    continue
                if response.status_code >= 400:
                    raise VLMError(f"{self.model}: HTTP {response.status_code}: {response.text[:300]}")
                return self._completion(response.text, time.perf_counter() - started, attempt)
            except VLMError as error:
                error.attempts = attempt + 1
                raise
            except _Retry as retry:
                problem = str(retry)
                continue
            except httpx.TimeoutException:
                problem = f"no answer within {self.timeout_s:g} s"
                continue
            except httpx.TransportError as error:  # refused, reset, DNS
                problem = f"cannot connect ({type(error).__name__}: {error})"
                continue
        error = VLMUnavailable(f"{self.model}: the server did not answer after {self.max_retries + 1} attempts: {problem}")
        error.attempts = self.max_retries + 1
        raise error

    async def _read_stream(self, client: httpx.AsyncClient, body: dict, on_text, started: float,
                           attempt: int) -> Completion:
        text, usage = "", {}
        async with client.stream("POST", "/chat/completions", json=body) as response:
            if response.status_code in RETRY_STATUS:
                raise _Retry(f"HTTP {response.status_code}: {(await response.aread())[:200]!r}")
            if response.status_code >= 400:
                raise VLMError(f"{self.model}: HTTP {response.status_code}: {(await response.aread())[:300]!r}")
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                whole = self._completion((await response.aread()).decode("utf-8", "replace"),
                                         time.perf_counter() - started, attempt)  # a server that ignores `stream`
                on_text(whole.text)
                return whole
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    break
                try:
                    chunk = json.loads(payload)
                except ValueError:
                    raise VLMError(f"{self.model}: malformed event from the server: {payload[:200]}") from None
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or []:
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        text += piece
                        on_text(text)
        return Completion(text, Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0),
                                      time.perf_counter() - started, attempt))

    def _completion(self, body: str, latency: float, retries: int) -> Completion:
        try:
            data = json.loads(body)
            text = data["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise VLMError(f"{self.model}: malformed answer from the server ({error}): {body[:200]}") from None
        usage = data.get("usage") or {}
        return Completion(text, Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0),
                                      latency, retries))

    async def models(self) -> list[str]:
        """The models the server serves (GET /models); raises VLMUnavailable when it does not answer."""
        try:
            async with self._new_client() as client:
                response = await client.get("/models", timeout=min(self.timeout_s, 10.0))
                response.raise_for_status()
                return [m["id"] for m in response.json().get("data", [])]
        except (httpx.HTTPError, ValueError, KeyError) as error:
            raise VLMUnavailable(f"{self.model}: no server answers at {self.base_url} ({error})") from None


class _Retry(Exception):
    """A streamed request answered with a status worth retrying."""
