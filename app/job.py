"""One explanation job, built once from settings: what `explain`, `report`, `chat` and `ui` share.

Every front end used to set up its own VLM client, taxonomy, rules, detector and device, and they
drifted (the batch path lost the device, the detector and the frame-folder rate). They now build a
`Job` and call its methods, so a setting reaches every front end or none.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from vadagent.agents.explain.detection import Detection
from vadagent.agents.explain.run import aexplain_detection, aexplain_then_close, write_report
from vadagent.app.detecting import DetectionJob
from vadagent.app.report_html import write_html
from vadagent.app.stopping import run_stoppable
from vadagent.config import Settings
from vadagent.devices import pick_device
from vadagent.errors import VadagentError
from vadagent.rules import RuleSet, default_rules
from vadagent.taxonomy import load_taxonomy
from vadagent.tools.detector import load_detector
from vadagent.tools.scorer import ScoreResult
from vadagent.tools.scorer.scorer import Progress
from vadagent.tools.vlm import VLMClient, VLMUnavailable, client_from_settings
from vadagent.tools.vlm.spec import chosen_model, loads_in_process
from vadagent.types import VideoReport


def _client(settings: Settings, spec: str | None) -> VLMClient:
    return client_from_settings(chosen_model(spec, settings.vlm), settings.vlm)


def load_vlm(settings: Settings, spec: str | None, console: Console, *, without: str = "") -> VLMClient | None:
    """The client for `spec` (default: the settings' model, else the default local model), or None
    with one line naming the spec, why it cannot be used and what still works without it."""
    try:
        return _client(settings, spec)
    except VLMUnavailable as error:
        console.print(f"[yellow]no VLM:[/yellow] {escape(str(error))}" + (f"; {without}" if without else ""),
                      soft_wrap=True)
        return None


class ClientLoad:
    """The load of a VLM client, maybe still running in a background thread. An in-process model's
    imports and weights take 10 s to minutes and fitting and scoring need no model, so they run
    meanwhile; whoever first needs the model waits for the rest (`result`). A daemon thread: Ctrl-C
    is not held up by a load."""

    def __init__(self, load: Callable[[], VLMClient | None] | None = None, *, client: VLMClient | None = None,
                 console: Console | None = None, what: str = "the model") -> None:
        self._done: Future[VLMClient | None] = Future()
        self._console, self._what, self._started = console, what, time.monotonic()
        self._told, self._telling = False, threading.Lock()  # the wait is said once, however many callers wait
        if load is None:
            self._done.set_result(client)
        else:
            # running, so it cannot be cancelled: `aresult`'s waiters pass a cancel on to it (a cancelled request, a
            # stopped video), and the load they all share would otherwise never be delivered to anyone
            self._done.set_running_or_notify_cancel()
            threading.Thread(target=self._load, args=(load,), name="vadagent-vlm-load", daemon=True).start()

    def _load(self, load: Callable[[], VLMClient | None]) -> None:
        try:
            self._done.set_result(load())
        except BaseException as error:  # noqa: BLE001 - raised again in the thread that asks for the client
            self._done.set_exception(error)

    def result(self) -> VLMClient | None:
        self._tell_wait()
        return self._done.result()

    async def aresult(self) -> VLMClient | None:
        """`result` without blocking the event loop while the model loads."""
        self._tell_wait()
        return await asyncio.wrap_future(self._done)

    def _tell_wait(self) -> None:
        """One line when work stops for the load, so a pause of minutes after scoring is not silent (a
        plain line: a spinner would clash with the live progress display `report` and `watch` keep)."""
        if self._console is None or self.done():
            return
        with self._telling:
            told, self._told = self._told, True
        if not told:
            self._console.print(f"waiting for {escape(self._what)} to finish loading "
                                f"({time.monotonic() - self._started:.0f} s so far)", highlight=False, soft_wrap=True)

    def done(self) -> bool:
        return self._done.done()

    def loaded(self) -> VLMClient | None:
        """The client if its load has finished (None while it runs, when there is no model, or when the
        load failed: whoever calls `result` sees that error)."""
        return self._done.result() if self.done() and self._done.exception() is None else None

    @property
    def capacity(self) -> int:
        """Requests the backend serves at once (0: no model), without waiting for a load: one while an
        in-process model loads, which is all it serves once loaded (calls hold its lock in turn)."""
        if not self.done():
            return VLMClient.capacity
        client = self.loaded()
        return client.capacity if client is not None else 0


def start_vlm(settings: Settings, spec: str | None, console: Console, *, without: str = "") -> ClientLoad:
    """As `load_vlm`, with an in-process model (`hf:`, the one kind that loads anything) loaded in the
    background unless `vlm.load_in_background` is off. Servers and replays are set up at once, so a
    malformed model string is still an error before any work."""
    chosen = chosen_model(spec, settings.vlm)
    if settings.vlm.load_in_background and loads_in_process(chosen):
        return ClientLoad(lambda: load_vlm(settings, chosen, console, without=without), console=console, what=chosen)
    return ClientLoad(client=load_vlm(settings, chosen, console, without=without))


def require_vlm(settings: Settings, spec: str | None, purpose: str) -> VLMClient:
    """As `load_vlm`, for work that cannot go on without a model: its failure is the error."""
    try:
        return _client(settings, spec)
    except VLMUnavailable as error:
        raise VadagentError(f"{purpose}: {error}") from None


@dataclass
class Job(DetectionJob):
    """`DetectionJob` with the model: explaining what it detects."""

    client_load: ClientLoad
    detector: object | None

    @classmethod
    def build(cls, settings: Settings, console: Console, *, vlm: str | None = None, taxonomy: str | None = None,
              rules_file: Path | None = None, fps: float | None = None, client_load: ClientLoad | None = None) -> Job:
        """Cheap checks first (taxonomy, rules), so a typo fails before minutes of model loading; the
        model `vlm` then loads, in-process ones while the scorer fits and scores (`start_vlm`).
        `client_load`: a caller's load of its model (started or done), used instead."""
        chosen_taxonomy = load_taxonomy(taxonomy or settings.taxonomy)
        rules = RuleSet.from_yaml(rules_file) if rules_file else default_rules()
        device = pick_device(settings.scorer.device)
        detector = load_detector(device)  # before the model's load starts: both may import torch
        client_load = client_load or start_vlm(settings, vlm, console)
        return cls(settings, chosen_taxonomy, rules, device, fps, client_load, detector)

    @property
    def client(self) -> VLMClient | None:
        """The VLM client (None: no model), once loaded: the first caller waits for a model still loading."""
        return self.client_load.result()

    def _explaining(self, prompts: list[dict], on_detected, progress: Progress | None = None) -> dict:
        return {"folder_fps": self.folder_fps, "detector": self.detector, "prompts_log": prompts,
                "deadline_s": self.settings.vlm.video_deadline_s, "on_detected": on_detected,
                "calls_per_candidate": self.settings.vlm.calls_per_candidate, "progress": progress}

    def explain(self, detection: Detection, prompts: list[dict], on_detected=None,
                progress: Progress | None = None) -> tuple[VideoReport, ScoreResult] | None:
        """Explain a detection (`detect`): the model is waited for only now, once the scoring is done. None
        when Ctrl-C or SIGTERM stopped it (not waiting for an answer being generated: see app/stopping.py)."""

        async def explained() -> tuple[VideoReport, ScoreResult]:  # the model waited for in the loop: a stop ends it
            return await aexplain_then_close(detection, await self.client_load.aresult(),
                                             **self._explaining(prompts, on_detected, progress))

        result, stopped = run_stoppable(explained())
        return None if stopped else result

    async def aexplain_detection(self, detection: Detection, prompts: list[dict]) -> tuple[VideoReport, ScoreResult]:
        return await aexplain_detection(detection, await self.client_load.aresult(), **self._explaining(prompts, None))

    def write(self, folder: Path, report: VideoReport, scored: ScoreResult, prompts: list[dict]) -> None:
        """report.json, events, prompts, scores and report.html into `folder`."""
        write_report(folder, report, scored, self.sigma, prompts)
        write_html(folder / "report.html", report, scored, sigma=self.sigma, folder_fps=self.folder_fps)
