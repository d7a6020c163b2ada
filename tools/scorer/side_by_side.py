"""Videos scored, and scorers fitted, side by side, each in a process of its own.

One video keeps about 1.7 cores busy however many the machine has: decoding and optical flow run
ahead in threads, but the tiers read each frame in Python under one interpreter lock. Videos in
processes of their own add up instead: on a two-core machine little is left to add (Ped2's test
clips, `eval detect`: 1.08–1.14× with two processes; the stage bench within its noise of videos read in
turn), on a many-core one the processes take the cores one video leaves idle (`evals/bench_scorer.py`
measures it there). A process loads the scorer from the folder it was saved to
(safetensors + JSON, as `vadagent score --scorer` does: nothing a user hands over is unpickled; only
results come back, from the processes this module starts) and holds its flow threads to its share
of the cores. Results come in the order asked for, with the same scores as `Scorer.score` here (a
test checks them to the bit), and a video's error is raised in its turn. `run` hands a process any
function of a scorer (`vadagent report`'s detection, app/processes.py).
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from vadagent.devices import usable_cores
from vadagent.errors import VadagentError
from vadagent.logs import setup_logging
from vadagent.tools.scorer.frames import hold_threads
from vadagent.tools.scorer.scorer import Scorer

if TYPE_CHECKING:
    from vadagent.tools.scorer.footage import SourceSpec
    from vadagent.tools.scorer.result import ScoreResult
    from vadagent.tools.scorer.scorer import Progress, ScorerConfig

START_TIMEOUT_S = 120.0  # for every worker process to start and import the scorer's modules
ENDED_ABRUPTLY = ("a scoring process ended abruptly while {doing} (out of memory, or killed); fewer processes need "
                  "less memory")
_loaded: dict[str, Scorer] = {}  # in a worker process: the scorers it has loaded, by folder
T = TypeVar("T")


def _start_worker(threads: int, started: threading.Barrier, log_level: int) -> None:
    # a terminal's Ctrl-C reaches the whole process group: the parent stops the work, and a worker ends
    # without a traceback of its own (the interpreter's handler would print one per process)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    setup_logging(log_level)  # a spawned process starts with no logging set up
    hold_threads(threads)  # this module and the scorer's are imported by now: the process is ready
    started.wait(START_TIMEOUT_S)


def _nothing() -> None:
    """A task that makes the pool start a process (it starts one per task while none is idle)."""


def _with_saved(function: Callable[..., T], folder: str | None, args: tuple) -> T:
    """In a worker: `function(the scorer saved in folder, or None, *args)`."""
    if folder is not None and folder not in _loaded:
        _loaded[folder] = Scorer.load(folder)
    return function(_loaded[folder] if folder is not None else None, *args)


def _score(scorer: Scorer, video: str, folder_fps: float, device: str, keep_in: str | None) -> ScoreResult:
    result = scorer.score(video, folder_fps=folder_fps, device=device)
    if keep_in is not None:  # saved here, as it is made: a video finished before one ahead of it is not lost to a stop
        result.save(keep_in)
    return result


def _fit_saved(footage: list[SourceSpec], config: ScorerConfig, folder_fps: float, device: str, folder: str) -> str:
    return str(Scorer.fit(footage, config, folder_fps=folder_fps, device=device).save(folder))


def _on_opening(_: None, video: str, config: ScorerConfig, folder_fps: float, device: str,
                folder: str, keep: bool) -> tuple[str, ScoreResult]:
    # fitted and scored in one process: the scorer of the opening itself is kept in memory only
    scorer = Scorer.fit_on_opening(video, config, folder_fps=folder_fps, device=device)
    scorer.save(folder)
    result = scorer.score(video, folder_fps=folder_fps, device=device)
    if keep:  # as in _score
        result.save(folder)
    return folder, result


def default_processes(cores: int) -> int:
    """A batch's scoring processes (`vadagent report`), and a watch's camera processes at most: one per two
    cores on a machine of four or more. On fewer none (threads of this process): there two processes
    scored Ped2's test clips 1.08–1.14× faster (`eval detect --workers 2`, release 30), within the
    machine's noise, and each costs a second or two to start and a scorer's memory."""
    return cores // 2 if cores >= 4 else 0


def default_workers() -> int:
    """Processes for a machine: one per two cores (each keeps about 1.7 busy), at least two."""
    return max(2, usable_cores() // 2)


class SideBySide:
    """A pool of `workers` processes that score videos; use as a context manager."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.workers = workers
        self._stack = ExitStack()
        self._folders: dict[int, str] = {}  # id(scorer) → the folder it was saved to for the workers
        self._scorers: list[Scorer] = []  # kept alive, so an id is never reused while its folder is
        self._pool: ProcessPoolExecutor | None = None
        self.start_seconds = 0.0

    def __enter__(self) -> SideBySide:
        """Starts the worker processes and waits for each to be ready (`start_seconds`), so that what
        is timed after is scoring."""
        clock = time.perf_counter()
        context = multiprocessing.get_context("spawn")  # not fork: this process already runs flow threads
        started = context.Barrier(self.workers + 1)
        threads, log_level = max(1, usable_cores() // self.workers), logging.getLogger().getEffectiveLevel()
        self._pool = self._stack.enter_context(ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=_start_worker, initargs=(threads, started, log_level)))
        waiting = [self._pool.submit(_nothing) for _ in range(self.workers)]
        try:
            started.wait(START_TIMEOUT_S)
        except threading.BrokenBarrierError:
            self.__exit__()
            raise RuntimeError(f"the {self.workers} scoring processes did not all start within "
                               f"{START_TIMEOUT_S:g} s") from None
        for future in waiting:
            future.result()
        self.start_seconds = time.perf_counter() - clock
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
        self._stack.close()

    def abandon(self) -> None:
        """`__exit__` without waiting for the videos being scored: their processes are ended."""
        if self._pool is not None:
            # the executor's own processes: ProcessPoolExecutor gains a public terminate_workers only in 3.14
            # (None once the pool has shut down: a broken pool replaced before a stop was seen)
            processes = list((getattr(self._pool, "_processes", None) or {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                # SIGKILL, not SIGTERM: a process a stopping batch starts inherits its stops held (SIGTERM ignored,
                # `hold_further_stops`), and one just spawned may not be running Python yet; neither can ignore this
                process.kill()
        self._stack.close()

    def _new_folder(self) -> str:
        return self._stack.enter_context(tempfile.TemporaryDirectory(prefix="vadagent-scorer-"))

    def _folder(self, scorer: Scorer) -> str:
        if id(scorer) not in self._folders:
            self._keep(scorer, str(scorer.save(Path(self._new_folder()))))
        return self._folders[id(scorer)]

    def _keep(self, scorer: Scorer, folder: str) -> None:
        self._folders[id(scorer)] = folder
        self._scorers.append(scorer)

    def fit(self, footage: Sequence[list[SourceSpec]], config: ScorerConfig, *, folder_fps: float = 25.0,
            device: str = "cpu", progress: Progress | None = None) -> Iterator[Scorer]:
        """A scorer fitted on each list of normal footage (a camera's), in the order given: each fitted
        and saved by a process, loaded here (the same scorer as `Scorer.fit` here: a test checks its scores)."""
        futures = [self._submit(_fit_saved, list(sources), config, folder_fps, device, self._new_folder())
                   for sources in footage]
        what = [f"fitting on {', '.join(s.path for s in sources)}" for sources in footage]
        for done, folder in enumerate(self._in_order(futures, what), 1):
            scorer = Scorer.load(folder)
            self._keep(scorer, folder)  # scored later from the folder it was saved to
            yield scorer
            if progress:
                progress("fitting scorers side by side", done, len(futures))

    def score(self, jobs: Sequence[tuple[Scorer, str | Path]], *, folder_fps: float = 25.0, device: str = "cpu",
              progress: Progress | None = None, keep_in: Sequence[str | Path] | None = None) -> Iterator[ScoreResult]:
        """Each (scorer, video)'s `ScoreResult`, in the order given. `keep_in`: a folder for each, where its
        process saves the result (`ScoreResult.save`) as soon as it is made."""
        folders = [str(f) for f in keep_in] if keep_in is not None else [None] * len(jobs)
        futures = [self._submit(_with_saved, _score, self._folder(scorer), (str(video), folder_fps, device, folder))
                   for (scorer, video), folder in zip(jobs, folders, strict=True)]
        for done, result in enumerate(self._in_order(futures, [f"scoring {video}" for _, video in jobs]), 1):
            yield result
            if progress:
                progress("scoring videos side by side", done, len(futures))

    def on_openings(self, videos: Sequence[str | Path], config: ScorerConfig, *, folder_fps: float = 25.0,
                    device: str = "cpu", progress: Progress | None = None,
                    keep_in: Sequence[str | Path] | None = None) -> Iterator[tuple[Scorer, ScoreResult]]:
        """Each video scored by a scorer fitted on its own opening (`Scorer.fit_on_opening`), in the order
        given; the scorer comes back saved, for what it says of its fit. `keep_in`: a folder for each video,
        where its process saves the scorer and then the scores (`ScoreResult.save`), instead of a temporary one."""
        folders = [str(f) for f in keep_in] if keep_in is not None else [self._new_folder() for _ in videos]
        futures = [self._submit(_with_saved, _on_opening, None,
                                (str(video), config, folder_fps, device, folder, keep_in is not None))
                   for video, folder in zip(videos, folders, strict=True)]
        what = [f"fitting on the opening of {video} and scoring it" for video in videos]
        for done, (folder, result) in enumerate(self._in_order(futures, what), 1):
            yield Scorer.load(folder), result
            if progress:
                progress("scoring videos on their openings side by side", done, len(futures))

    def run(self, function: Callable[..., T], scorer: Scorer | None, *args: object) -> Future[T]:
        """`function(scorer, *args)` in one of the processes, the scorer loaded there from the folder it
        was saved to (None stays None). `function` is a module's own, as the processes import it by name.
        A process that ended abruptly breaks the pool: the future's error, or this call's, is then
        `BrokenProcessPool` (`fit` and `score` say it in one line)."""
        return self._executor.submit(_with_saved, function, None if scorer is None else self._folder(scorer), args)

    @property
    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            raise RuntimeError("SideBySide is used as a context manager (with SideBySide(n) as pool: ...)")
        return self._pool

    def _submit(self, *call: object) -> Future:
        try:
            return self._executor.submit(*call)
        except BrokenProcessPool:
            raise VadagentError(ENDED_ABRUPTLY.format(doing="waiting for work")) from None

    @staticmethod
    def _in_order(futures: list[Future], what: list[str]) -> Iterator:
        """Each future's result in turn (its error raised in its turn); those not reached are cancelled."""
        try:
            for future, doing in zip(futures, what, strict=True):
                try:
                    yield future.result()
                except BrokenProcessPool:
                    raise VadagentError(ENDED_ABRUPTLY.format(doing=doing)) from None
        finally:
            for future in futures:
                future.cancel()
