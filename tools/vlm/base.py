"""The one VLM interface: messages in; a validated object (or text) plus usage out.

Backends implement `_complete_batch`; validation, feedback and bounded retries live here once,
so every backend behaves the same when a model's answer does not validate.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import logging
import weakref
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from vadagent.errors import validation_summary
from vadagent.tools.vlm.media import MediaLimits, prepare
from vadagent.tools.vlm.schema import decoding_schema, feedback, printable_answer
from vadagent.tools.vlm.types import (
    CallBudget,
    Completion,
    Message,
    Sampling,
    Usage,
    VLMError,
    VLMOutputError,
    VLMResult,
)

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")
OnText = Callable[[str], None]  # called with the answer's text so far (it starts over on a retry)


def per_loop(store: weakref.WeakKeyDictionary, make: Callable[[], R]) -> R:
    """The running event loop's own object (asyncio primitives and HTTP pools belong to the loop that
    first used them; a client outlives many loops), made once and dropped with the loop."""
    loop = asyncio.get_running_loop()
    if loop not in store:
        store[loop] = make()
    return store[loop]


def run_sync(coroutine: Coroutine[Any, Any, R]) -> R:
    """Run a coroutine from sync code, also when the caller is already inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class VLMClient(abc.ABC):
    """Subclasses set `model` (the model string) and implement `_complete_batch`."""

    model: str
    capacity: int = 1  # requests the backend serves at once; a batch keeps this many videos in flight

    def __init__(self, limits: MediaLimits | None = None, validation_retries: int = 2) -> None:
        self.limits = limits or MediaLimits()
        self.validation_retries = validation_retries

    @abc.abstractmethod
    async def _complete_batch(
        self, conversations: list[list[Message]], schema: dict | None, sampling: Sampling
    ) -> list[Completion | VLMError]:
        """One raw answer per conversation, in order; a failed call is its exception."""

    async def _complete_streaming(self, messages: list[Message], schema: dict | None, sampling: Sampling,
                                  on_text: OnText) -> Completion | VLMError:
        """One answer, reporting its text as it grows. Backends that stream override this; by default
        the answer arrives whole, in one piece."""
        (answer,) = await self._complete_batch([messages], schema, sampling)
        if isinstance(answer, Completion):
            on_text(answer.text)
        return answer

    async def agenerate(self, messages: Sequence[Message], output_type: type[T] | None = None,
                        sampling: Sampling | None = None, context: dict | None = None,
                        on_text: OnText | None = None, budget: CallBudget | None = None) -> VLMResult[T]:
        """One request; `on_text` sees the raw answer grow (streamed where the backend streams)."""
        (result,) = await self.agenerate_many([messages], output_type, sampling, context, on_text=on_text, budget=budget)
        if isinstance(result, Exception):
            raise result
        return result

    def generate(self, messages: Sequence[Message], output_type: type[T] | None = None,
                 sampling: Sampling | None = None, context: dict | None = None,
                 on_text: OnText | None = None) -> VLMResult[T]:
        return run_sync(self.agenerate(messages, output_type, sampling, context, on_text))

    async def agenerate_many(
        self, conversations: Sequence[Sequence[Message]], output_type: type[T] | None = None,
        sampling: Sampling | None = None, context: dict | None = None, on_text: OnText | None = None,
        budget: CallBudget | None = None,
    ) -> list[VLMResult[T] | VLMError]:
        """Several requests at once (batched or concurrent, as the backend allows).

        Each answer is validated against `output_type`; failures get the validation error sent
        back and are asked again, up to `validation_retries` times. Failed entries are returned
        as `VLMError` instances, in place. Every request sent is charged to `budget`; once it is
        spent, what is still pending fails with `VLMBudgetError`.
        """
        budget = budget if budget is not None else CallBudget()
        sampling = sampling or Sampling()
        schema = decoding_schema(output_type) if output_type is not None else None
        convs = [prepare(list(c), self.limits) for c in conversations]
        usage = [Usage() for _ in convs]
        results: list[VLMResult[T] | VLMError | None] = [None] * len(convs)
        pending = list(range(len(convs)))
        for attempt in range(self.validation_retries + 1):
            try:
                budget.check()
            except VLMError as spent:
                for i in pending:
                    results[i] = spent
                break
            budget.charge(len(pending))
            if on_text is not None and len(pending) == 1:
                answers = [await self._complete_streaming(convs[pending[0]], schema, sampling, on_text)]
            else:
                answers = await self._complete_batch([convs[i] for i in pending], schema, sampling)
            retry = []
            for i, answer in zip(pending, answers):
                if isinstance(answer, VLMError):
                    budget.charge(answer.attempts - 1)  # its transport retries
                    results[i] = answer
                    continue
                budget.charge(answer.usage.retries)
                usage[i].add(answer.usage)
                text = printable_answer(answer.text)
                try:
                    output = None if output_type is None else output_type.model_validate_json(text, context=context)
                except ValidationError as error:
                    if attempt == self.validation_retries:
                        results[i] = VLMOutputError(
                            f"{self.model}: the answer failed validation as {output_type.__name__} after "
                            f"{attempt + 1} attempts: {validation_summary(error, limit=1)}")
                        continue
                    log.info("%s: answer failed validation (%s); asking again", self.model, validation_summary(error, limit=1))
                    convs[i] = convs[i] + [Message.assistant(text), Message.user(feedback(error))]
                    usage[i].retries += 1
                    retry.append(i)
                    continue
                results[i] = VLMResult(text, output, usage[i], self.model)
            pending = retry
            if not pending:
                break
        return results  # type: ignore[return-value]

    def generate_many(self, conversations: Sequence[Sequence[Message]], output_type: type[T] | None = None,
                      sampling: Sampling | None = None, context: dict | None = None) -> list[VLMResult[T] | VLMError]:
        return run_sync(self.agenerate_many(conversations, output_type, sampling, context))

    async def aclose(self) -> None:  # noqa: B027 - backends without resources need nothing
        pass

