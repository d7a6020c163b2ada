"""Several OpenAI-compatible servers of one model behind one client: `vllm:MODEL@URL1,URL2,…`.

One `vllm serve` per GPU (or vLLM's data-parallel replicas) serves more than one alone, if the
requests are spread: each request goes to the endpoint with the fewest requests in flight that
still has a free slot (its own `concurrency`); an endpoint that fails is backed off (exponentially,
up to a minute) and the request moves to another, while the others carry on. Validation, feedback
and the call budget stay in `VLMClient`, as for any backend.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from dataclasses import dataclass

from vadagent.tools.vlm.base import VLMClient, per_loop
from vadagent.tools.vlm.http import OpenAICompatibleClient
from vadagent.tools.vlm.types import Completion, Message, Sampling, VLMError, VLMUnavailable


@dataclass
class Endpoint:
    client: OpenAICompatibleClient
    in_flight: int = 0
    failures: int = 0  # consecutive
    retry_at: float = 0.0  # monotonic time before which it is backed off
    served: int = 0

    @property
    def url(self) -> str:
        return self.client.base_url

    def free(self, now: float) -> bool:
        return now >= self.retry_at and self.in_flight < self.client.concurrency


class EndpointPool(VLMClient):
    def __init__(self, clients: list[OpenAICompatibleClient], *, attempts: int | None = None,
                 backoff_s: float = 1.0, max_backoff_s: float = 60.0) -> None:
        first = clients[0]
        super().__init__(first.limits, first.validation_retries)
        self.endpoints = [Endpoint(c) for c in clients]
        self.model = f"{first.flavor}:{first.model_name}@{','.join(e.url for e in self.endpoints)}"
        self.capacity = sum(c.concurrency for c in clients)
        # a request tries each endpoint, and each as often as a single client would retry it
        self.attempts = attempts or len(clients) * (first.max_retries + 1)
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self._changed: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Condition] = weakref.WeakKeyDictionary()

    def in_flight(self) -> dict[str, int]:
        """Requests in flight per endpoint (for progress)."""
        return {e.url: e.in_flight for e in self.endpoints}

    def _condition(self) -> asyncio.Condition:
        return per_loop(self._changed, asyncio.Condition)

    async def _acquire(self) -> Endpoint:
        """The free endpoint with the fewest requests in flight; waits while none is free."""
        changed = self._condition()
        async with changed:
            while True:
                now = time.monotonic()
                free = [e for e in self.endpoints if e.free(now)]
                if free:
                    chosen = min(free, key=lambda e: (e.in_flight, e.served))
                    chosen.in_flight += 1
                    return chosen
                backed_off = [e.retry_at for e in self.endpoints if e.retry_at > now]
                wait = min(backed_off) - now if backed_off else None  # else: wait for a slot to free up
                try:
                    await asyncio.wait_for(changed.wait(), timeout=wait)
                except TimeoutError:
                    pass

    async def _release(self, endpoint: Endpoint, failed: bool) -> None:
        changed = self._condition()
        async with changed:
            endpoint.in_flight -= 1
            if failed:
                endpoint.failures += 1
                endpoint.retry_at = time.monotonic() + min(self.backoff_s * 2 ** (endpoint.failures - 1),
                                                           self.max_backoff_s)
            else:
                endpoint.failures, endpoint.served = 0, endpoint.served + 1
            changed.notify_all()

    async def _one(self, messages: list[Message], schema: dict | None, sampling: Sampling,
                   on_text=None) -> Completion | VLMError:
        error: VLMError = VLMUnavailable(f"{self.model}: no endpoint answered")
        for attempt in range(self.attempts):
            endpoint = await self._acquire()
            try:
                if on_text is None:
                    (answer,) = await endpoint.client._complete_batch([messages], schema, sampling)
                else:
                    answer = await endpoint.client._complete_streaming(messages, schema, sampling, on_text)
            except BaseException:
                await self._release(endpoint, failed=False)
                raise
            unreachable = isinstance(answer, VLMUnavailable)
            await self._release(endpoint, failed=unreachable)
            if not unreachable:
                if isinstance(answer, Completion):
                    answer.usage.retries += attempt
                else:
                    answer.attempts += attempt
                return answer
            error = answer
        error.attempts = self.attempts
        return error

    async def _complete_batch(self, conversations: list[list[Message]], schema: dict | None,
                              sampling: Sampling) -> list[Completion | VLMError]:
        return list(await asyncio.gather(*(self._one(c, schema, sampling) for c in conversations)))

    async def _complete_streaming(self, messages: list[Message], schema: dict | None, sampling: Sampling,
                                  on_text) -> Completion | VLMError:
        return await self._one(messages, schema, sampling, on_text)

    async def aclose(self) -> None:
        for endpoint in self.endpoints:
            await endpoint.client.aclose()
