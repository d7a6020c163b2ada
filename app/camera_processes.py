"""`vadagent watch`'s cameras read in processes of their own (`--processes`; by default on machines of
four cores or more, see `default_processes`).

Each process runs `CameraReaders` for its share of the cameras, so a camera's stream, its ring of
recent frames (and those it holds for waiting moments) and its live scores stay where it is read.
Little comes back: each moment as it closes, with its keyframes (saved by the process), every camera's
latest score twice a second, and the cuts the watch asks for (the process writes a moment's clip; its
path and the frames' live scores come back); the watch tells it which held frames may go. Ctrl-C
reaches the processes too, and they ignore it: the watch stops their cameras and keeps asking for cuts
until the last moment is explained, then ends them. A process that ends abruptly (killed, out of
memory) is started again, said in one line, and its cameras go on counting frames and time from where
they were (what it held is lost: its frames, so a moment waiting to be cut is recorded as not
explained); after RESTARTS, or for cameras that are files played once, which would only be read again,
its cameras stop; the others go on.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import multiprocessing
import queue
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from vadagent.app.cameras import (
    Camera,
    CameraReaders,
    Cut,
    Finished,
    Submit,
    WatchOptions,
    context_arrived,
    cut_clip,
    give_back_freed,
    steady_memory,
)
from vadagent.devices import usable_cores
from vadagent.logs import setup_logging
from vadagent.tools.scorer import Scorer
from vadagent.tools.scorer.frames import hold_threads
from vadagent.tools.scorer.live import Moment
from vadagent.tools.scorer.side_by_side import default_processes as batch_processes
from vadagent.tools.video.live import LiveSource

log = logging.getLogger(__name__)
STATUS_EVERY_S = 0.5
CLOSE_TIMEOUT_S = 10.0
RESTARTS = 3  # a process that ends abruptly is started again this many times over a watch
# Told through each process's queue, not a shared multiprocessing.Event: setting one waits for every
# process that waits on it to wake, and one that was killed never does.
HALT = "halt"


def default_processes(cores: int, cameras: int) -> int:
    """As a batch's (`side_by_side.default_processes`: one per two cores on machines of four cores or more),
    at most one per camera, and none for one camera; none means threads of the watch's process. On this
    2-core machine two cameras' live scorers alone read 1.28× and 1.51× the frames/s in two processes
    that they did in two threads (`evals/bench_watch.py`, two runs), but a whole watch of two busy
    cameras read, explained and dropped the same either way (both cores were already busy; release 32's
    soaks, evals/HISTORY.md), and its processes held 270 MB more. From four cores there are cores for
    the processes to take."""
    return min(cameras, batch_processes(cores)) if cameras >= 2 else 0


@dataclass(frozen=True)
class CameraSpec:
    """What a process needs to read a camera: the scorer is loaded there from its folder. A camera read
    again after its process ended goes on from where it was: frames, interruptions, clock."""

    name: str
    source: str
    realtime: bool
    loop: bool
    scorer_dir: str
    frames: int = 0
    interruptions: int = 0
    opened_at: float | None = None
    options: dict[str, str] = field(default_factory=dict)  # FFmpeg input options (cameras.yaml)
    damaged: int = 0  # packets that did not decode, or arrived with pieces missing


# name, score, time, frames, interruptions, damaged packets, opened at, oldest frame kept, how its picture is read
Status = tuple[str, float, float, int, int, int, float | None, float, str]


def _status(camera: Camera, before: CameraSpec) -> Status:
    """What the watch shows of a camera read here; its counts go on from those of its processes before."""
    return (camera.name, camera.score, camera.latest_s, camera.frames, before.interruptions + len(camera.source.gaps),
            before.damaged + camera.source.skipped + camera.source.corrupt, camera.source.opened_at, camera.kept_from_s,
            camera.reading)


def _serve(specs: list[CameraSpec], options: WatchOptions, device: str, keyframes: Path, threads: int, commands,
           results, log_level: int) -> None:
    """A camera process: read its cameras until told to halt (HALT), answer cuts ("cut", …) and let held
    frames go ("release", …) until told to end (None)."""
    for sig in (signal.SIGINT, signal.SIGTERM):  # the watch ends this process itself, after its last cut
        signal.signal(sig, signal.SIG_IGN)
    setup_logging(log_level)
    steady_memory()
    hold_threads(threads)
    # a camera read again holds none of the frames it had (its ring died with the process) until it reads one
    cameras = [Camera(s.name, LiveSource(s.source, realtime=s.realtime, loop=s.loop, first_index=s.frames,
                                         opened_at=s.opened_at, options=s.options), Scorer.load(s.scorer_dir), 0.0,
                      frames=s.frames,
                      kept_from_s=float("inf") if s.frames else float("-inf"))
               for s in specs]
    by_name = {camera.name: camera for camera in cameras}
    before = {s.name: s for s in specs}
    readers = CameraReaders(cameras, options, device, keyframes)

    def finished(camera: Camera) -> None:
        camera.alive = False
        results.put(("finished", _status(camera, before[camera.name])))

    def cut(request: int, name: str, moment: Moment, clip: str) -> None:
        camera, result = by_name.get(name), None
        while camera is not None and not context_arrived(camera, moment, options):
            time.sleep(0.1)
        try:
            result = None if camera is None else cut_clip(camera, moment, Path(clip), options)
        except Exception:  # noqa: BLE001 - the watch waits for an answer to every cut
            log.exception("%s: the moment at %.1f s could not be cut into a clip", name, moment.start_s)
        results.put(("cut", request, result))

    readers.start(lambda camera, moment, kept: results.put(("moment", camera.name, moment, kept)), finished)
    parent, told = multiprocessing.parent_process(), 0.0
    try:
        while parent is None or parent.is_alive():
            try:
                command = commands.get(timeout=STATUS_EVERY_S)
            except queue.Empty:
                command = ()
            if command is None:
                break
            if command == HALT:
                readers.stop()
            elif command and command[0] == "release":
                _, name, moments = command
                readers.release(by_name[name], moments)
                give_back_freed()  # the held JPEGs just freed: heap pages back to the system, as the watch does
            elif command:
                threading.Thread(target=cut, args=command[1:], name=f"cut {command[2]}", daemon=True).start()
            if time.monotonic() - told >= STATUS_EVERY_S:
                results.put(("status", [_status(camera, before[camera.name]) for camera in cameras]))
                told = time.monotonic()
    finally:
        readers.close()


class CameraProcesses:
    """The cameras read in `processes` processes; the interface of `CameraReaders`."""

    def __init__(self, cameras: list[Camera], options: WatchOptions, device: str, keyframes: Path, processes: int) -> None:
        if missing := [camera.name for camera in cameras if camera.scorer_dir is None]:
            raise ValueError(f"cameras read in processes need the folders of their scorers: {', '.join(missing)}")
        self.cameras = cameras
        processes = max(1, min(processes, len(cameras)))
        context = multiprocessing.get_context("spawn")  # not fork: this process already runs threads
        self._results = context.Queue()
        groups = [cameras[i::processes] for i in range(processes)]
        self._owner = {camera.name: i for i, group in enumerate(groups) for camera in group}
        self._groups, self._context, self._options, self._device, self._keyframes = groups, context, options, device, keyframes
        self._threads, self._level = max(1, usable_cores() // processes), logging.getLogger().getEffectiveLevel()
        for camera in cameras:
            camera.reported_interruptions = camera.reported_damaged = 0  # the process's source counts them
        self._opened_at: dict[str, float | None] = {camera.name: None for camera in cameras}
        self._commands: list = [None] * processes
        self._processes: list = [None] * processes
        self._restarts = [0] * processes
        self._halted = False
        for i in range(processes):
            self._start(i)
        self._cuts: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future, int]] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._lost: set[int] = set()
        self._closing, self._drained = False, threading.Event()
        self._drainer: threading.Thread | None = None
        self._submit: Submit | None = None
        self._finished: Finished | None = None

    def _start(self, index: int) -> None:
        """Process `index` for its cameras, each going on from where it was."""
        specs = [CameraSpec(c.name, c.source.source, c.source.realtime, c.source.loop, str(c.scorer_dir), c.frames,
                            c.interruptions, self._opened_at[c.name], c.source.options, c.damaged)
                 for c in self._groups[index]]
        self._commands[index] = commands = self._context.Queue()  # a killed reader may hold the old one's lock
        self._processes[index] = process = self._context.Process(
            target=_serve, name=f"vadagent-cameras-{index}", daemon=True,
            args=(specs, self._options, self._device, self._keyframes, self._threads, commands, self._results, self._level))
        process.start()

    def start(self, submit: Submit, finished: Finished) -> None:
        self._submit, self._finished = submit, finished
        self._drainer = threading.Thread(target=self._drain, name="camera processes", daemon=True)
        self._drainer.start()

    def stop(self) -> None:
        self._halted = True
        for commands in self._commands:
            commands.put(HALT)

    def close(self) -> None:
        """After the last cut: the processes end (their cameras stopped first)."""
        self._closing = True
        for commands in self._commands:
            commands.put(HALT)
            commands.put(None)
        for process in self._processes:
            process.join(CLOSE_TIMEOUT_S)
            if process.is_alive():
                process.kill()  # it ignores SIGTERM
                process.join(CLOSE_TIMEOUT_S)
        self._drained.set()
        if self._drainer is not None:
            self._drainer.join(CLOSE_TIMEOUT_S)
        for commands in self._commands:
            commands.close()
            commands.cancel_join_thread()  # a process that died left its queue unread
        # The queues' semaphores go with the queues: a watch stopped at once ends by os._exit, which runs no
        # finalizer, and the resource tracker would clean them up with a warning about leaked semaphores.
        if self._drainer is None or not self._drainer.is_alive():  # (else it still reads the results queue)
            self._processes, self._commands, self._results = [], [], None
            gc.collect()

    async def cut(self, camera: Camera, moment: Moment, clip: Path) -> Cut | None:
        """As `CameraReaders.cut`, in the camera's process; None too when that process has ended."""
        owner = self._owner[camera.name]
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            if owner in self._lost:
                return None
            request = next(self._ids)
            self._cuts[request] = (loop, future, owner)
        self._commands[owner].put(("cut", request, camera.name, moment, str(clip)))
        return await future

    def release(self, camera: Camera, moments: list[float]) -> None:
        """As `CameraReaders.release`, in the camera's process (a process that ended held nothing)."""
        owner = self._owner[camera.name]
        with self._lock:
            if owner in self._lost or self._closing:  # closing: the processes end, and their queues close
                return
        self._commands[owner].put(("release", camera.name, moments))

    # -- in the thread that reads what the processes send -----------------------------------------
    def _drain(self) -> None:
        by_name = {camera.name: camera for camera in self.cameras}
        dead_since: dict[int, float] = {}
        while True:
            if not self._closing:  # a process found dead is given a second for what it sent to be read first
                for i, process in enumerate(self._processes):
                    if i not in self._lost and not process.is_alive():
                        if time.monotonic() - dead_since.setdefault(i, time.monotonic()) >= 1.0:
                            self._ended_abruptly(i, process.exitcode)
                            dead_since.pop(i)
            try:
                message = self._results.get(timeout=STATUS_EVERY_S)
            except queue.Empty:
                if self._drained.is_set():
                    return
                continue
            kind = message[0]
            if kind == "moment":
                self._submit(by_name[message[1]], message[2], message[3])
            elif kind == "status":
                for row in message[1]:
                    self._update(by_name[row[0]], row)
            elif kind == "finished":
                camera = by_name[message[1][0]]
                self._update(camera, message[1])
                self._finished(camera)
            elif kind == "cut":
                with self._lock:
                    waiting = self._cuts.pop(message[1], None)
                if waiting is not None:
                    self._answer(waiting, message[2])

    def _update(self, camera: Camera, row: Status) -> None:
        (_, camera.score, camera.latest_s, camera.frames, camera.reported_interruptions, camera.reported_damaged, opened_at,
         camera.kept_from_s, camera.reading) = row
        self._opened_at[camera.name] = opened_at

    @staticmethod
    def _answer(waiting: tuple[asyncio.AbstractEventLoop, asyncio.Future, int], cut: Cut | None) -> None:
        loop, future, _ = waiting
        loop.call_soon_threadsafe(lambda: future.done() or future.set_result(cut))

    def _ended_abruptly(self, index: int, exitcode: int | None) -> None:
        group = self._groups[index]
        # a stopping watch starts nothing, and files played once would only be read again
        going_on = [c for c in group if c.alive and (not c.source.is_file or c.source.loop)]
        if self._halted or self._restarts[index] >= RESTARTS:
            going_on = []
        stopping = [c for c in group if c.alive and c not in going_on]
        with self._lock:
            if not going_on:
                self._lost.add(index)
            unanswered = [request for request, (_, _, owner) in self._cuts.items() if owner == index]
            answers = [self._cuts.pop(request) for request in unanswered]
        for waiting in answers:  # what the process held is gone
            self._answer(waiting, None)
        said = (f"started again for {', '.join(c.name for c in going_on)} ({self._restarts[index] + 1} of {RESTARTS})"
                if going_on else "")
        said += ("; " if said and stopping else "") + (f"{', '.join(c.name for c in stopping)} stop, the other cameras "
                                                        "go on" if stopping else "")
        log.error("the process reading camera(s) %s ended abruptly (exit code %s: killed, or out of memory); %s",
                  ", ".join(c.name for c in group), exitcode, said or "they had ended")
        for camera in stopping:
            self._finished(camera)
        if going_on:
            self._restarts[index] += 1
            for camera in going_on:
                camera.reported_interruptions = camera.interruptions + 1  # the process's end is one
                camera.kept_from_s = float("inf")  # its waiting moments' frames are gone: set aside, no call spent
            self._groups[index] = going_on
            self._start(index)
