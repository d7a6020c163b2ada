"""`vadagent report`'s scoring in processes of this machine (without `--ray`).

A batch scores videos while the model explains others. In threads of one process they share one
interpreter lock, which keeps about 1.7 cores busy however many the machine has (the tiers read each
frame in Python); in processes of their own (`SideBySide`: spawned, each holding its share of the
cores, the scorer loaded from a folder it was saved to) they take the cores. The explaining stays in
this process, where the model is, as it does with Ray. A process that ends abruptly (out of memory,
killed) breaks the pool: it is started again and each video it was scoring is tried once more, then
fails alone, said in one line; the batch goes on.
"""

from __future__ import annotations

import asyncio
from concurrent.futures.process import BrokenProcessPool

from rich.console import Console

from vadagent.agents.explain.detection import Detection
from vadagent.app.detecting import DetectionJob, detect_apart
from vadagent.errors import VadagentError
from vadagent.tools.scorer import Scorer
from vadagent.tools.scorer.side_by_side import ENDED_ABRUPTLY, SideBySide

RETRIES = 1  # a video whose process ended is tried this many times more, on the pool started again


class ScoringProcesses:
    """`processes` scoring processes for one batch; `detect` as `RayCluster.detect`. Start it before
    the event loop (the processes take a second or two), close it after."""

    task_errors: tuple[type[BaseException], ...] = ()  # a video's failure here is a VadagentError

    def __init__(self, job: DetectionJob, console: Console, processes: int) -> None:
        self.job, self.cpus = job, processes
        self._pool = SideBySide(processes).__enter__()
        self._starting: SideBySide | None = None  # a broken pool's replacement while its processes start
        self._replacing = asyncio.Lock()
        console.print(f"scoring in {processes} process(es) of this machine", highlight=False)

    async def detect(self, video: str, scorer: Scorer | None) -> tuple[Detection, str | None]:
        job = self.job
        for _ in range(RETRIES + 1):
            pool = self._pool
            try:
                return await asyncio.wrap_future(pool.run(detect_apart, scorer, job.settings, job.taxonomy, job.rules,
                                                          job.fps, job.device, video))
            except BrokenProcessPool:
                await self._replace(pool)
        raise VadagentError(ENDED_ABRUPTLY.format(doing=f"scoring {video}"))

    async def _replace(self, broken: SideBySide) -> None:
        """A new pool for the broken one, once, however many of its videos found it broken."""
        async with self._replacing:
            if self._pool is broken:
                broken.__exit__()
                self._starting = SideBySide(self.cpus)  # a stop while it starts ends its processes too (`close`)
                self._pool = await asyncio.to_thread(self._starting.__enter__)
                self._starting = None

    def close(self, wait: bool = True) -> None:
        """Ends the processes; without `wait`, at once, dropping the videos they are scoring."""
        if wait:
            self._pool.__exit__()
        else:
            for pool in (self._pool, self._starting):
                if pool is not None:
                    pool.abandon()
