"""Ctrl-C and SIGTERM for the commands whose event loop waits on work in threads (`report`, `chat`,
and `watch` when stopped at once).

`asyncio.run` answers Ctrl-C by cancelling its task and then waiting for the default executor's
threads, and the interpreter waits for them again at exit; but a thread scoring a video or generating
an answer cannot be interrupted, and one blocked in `input()` waits for Enter. So these commands run
their loop here: a stop cancels the task and nothing waits for the threads; the command says what was
kept, then ends the process (`end_stopped`)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOPPED_EXIT = 130  # as a shell reports a program that Ctrl-C ended


def run_stoppable(work: Coroutine[Any, Any, T]) -> tuple[T | None, bool]:
    """`work`'s result in an event loop of its own, and whether Ctrl-C or SIGTERM stopped it first
    (the result is then None). Unstopped, it ends as `asyncio.run` does."""
    loop = asyncio.new_event_loop()
    task = loop.create_task(work)
    stopped = False

    def stop() -> None:
        nonlocal stopped
        stopped = True
        task.cancel()

    # signal handlers belong to the main thread (a test or an embedding may call from another)
    signals = STOP_SIGNALS if threading.current_thread() is threading.main_thread() else ()
    for sig in signals:
        loop.add_signal_handler(sig, stop)
    try:
        try:
            return loop.run_until_complete(task), stopped
        except asyncio.CancelledError:
            if not stopped:
                raise
            return None, True
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        if not stopped:  # as asyncio.run ends: tasks left cancelled, generators closed, threads joined
            _cancel_rest(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()  # stopped: without waiting for the executor's threads (the caller holds further stops)


def run_then_end(work: Coroutine[Any, Any, int], at_once: Callable[[], bool]) -> int:
    """`work`'s exit code, run and closed as `asyncio.run` does; but when `at_once()` says so at its end,
    the process ends there with that code, without waiting for the threads still at work (`watch`'s
    second Ctrl-C: it has recorded every moment, and an answer a model is generating cannot be interrupted)."""
    loop = asyncio.new_event_loop()
    try:
        code = loop.run_until_complete(work)
        if at_once():
            end_stopped(code)
        return code
    finally:
        _cancel_rest(loop)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


def _cancel_rest(loop: asyncio.AbstractEventLoop) -> None:
    rest = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in rest:
        task.cancel()
    if rest:
        loop.run_until_complete(asyncio.gather(*rest, return_exceptions=True))


def hold_further_stops() -> None:
    """Once a command is stopping, another Ctrl-C or SIGTERM is ignored: impatient presses would otherwise
    raise KeyboardInterrupt in the middle of saying what was kept, a traceback instead of that line. (Main
    thread only, where signal handlers live.)"""
    if threading.current_thread() is threading.main_thread():
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


def end_stopped(code: int = STOPPED_EXIT) -> NoReturn:
    """The end of a stopped command, once it has said what was kept: without waiting for the threads
    still at work (everything finished is on disk: reports are renamed into place when complete, the
    index and a chat's memory are SQLite, committed as they go)."""
    hold_further_stops()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


async def read_line(prompt: str) -> str:
    """`input(prompt)` in a daemon thread: a stop at the prompt ends the command at once, where a thread of
    the default executor blocked in `input()` would hold the process until Enter. EOFError is raised here."""
    loop = asyncio.get_running_loop()
    line: asyncio.Future[str] = loop.create_future()

    def settle(value: str | None, error: BaseException | None) -> None:
        if line.done():
            return
        if error is not None:
            line.set_exception(error)
        else:
            line.set_result(value)

    def read() -> None:
        try:
            value, error = input(prompt), None
        except BaseException as raised:  # EOFError, or a closed stream
            value, error = None, raised
        try:
            loop.call_soon_threadsafe(settle, value, error)
        except RuntimeError:  # the loop has closed: nobody waits for this line
            pass

    threading.Thread(target=read, name="vadagent-input", daemon=True).start()
    return await line
