"""Work done one step ahead of its consumer, in a thread of its own."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import closing, nullcontext
from typing import TypeVar

T = TypeVar("T")


def ahead(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """`items`, produced in a worker thread up to `depth` ahead of the consumer. Decoding and
    optical flow run in OpenCV, which releases the GIL, so the next chunk is made while the tiers
    read this one. A worker's error is raised in the consumer; a consumer that stops early stops
    the worker (and closes `items`) before returning."""
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop, finished = threading.Event(), object()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            with closing(items) if hasattr(items, "close") else nullcontext():
                for item in items:
                    if not put(item):
                        return
            put(finished)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which raises it
            put(error)

    worker = threading.Thread(target=work, name="vadagent-frames", daemon=True)
    worker.start()
    try:
        while (item := handoff.get()) is not finished:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()
