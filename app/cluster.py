"""`vadagent report … --ray ADDRESS`: a batch's scoring on a Ray cluster.

The split follows the resources: scoring a video (decode, motion features, the tiers, the tracking
around each candidate; the CPU- or GPU-heavy half) runs as a Ray task that asks for a CPU (or a GPU
when the scorer uses one); the explaining (keyframes, relations, VLM calls) runs on the driver, where the VLM servers are
reachable and one client (one endpoint pool) bounds the requests of the whole batch. The scorer
travels once through Ray's object store, not re-fitted per worker; the driver alone writes the
reports and the index, so a rerun after any crash skips what is finished. A worker that dies is
retried by Ray (`max_retries`); a video that fails for its own reasons (a corrupt file) fails
alone. Ray serialises the tasks' arguments and results itself; nothing a user hands over is
unpickled (videos are read by path, settings and rules are validated objects).
"""

from __future__ import annotations

import logging
import os

from rich.console import Console

from vadagent.agents.explain.detection import Detection
from vadagent.app.detecting import DetectionJob, detect_apart
from vadagent.errors import MissingExtraError, UsageError
from vadagent.tools.scorer import Scorer

TASK_RETRIES = 2  # a worker that dies mid-video: Ray reruns its task this many times


class RayCluster:
    def __init__(self, address: str, job: DetectionJob, console: Console, cpus: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise MissingExtraError("--ray", "ray") from None
        self.ray, self.job = ray, job
        local = address == "local"
        try:
            ray.init(address=None if local else address, num_cpus=(cpus or os.cpu_count()) if local else None,
                     include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False,
                     configure_logging=False)
        except (ConnectionError, ValueError, RuntimeError) as error:
            raise UsageError(f"--ray {address}: cannot reach a Ray cluster there ({error})") from None
        self.cpus = int(ray.cluster_resources().get("CPU", 1))
        gpu = job.device.startswith("cuda")
        self._task = ray.remote(detect_apart).options(num_cpus=1, num_gpus=1 if gpu else 0, max_retries=TASK_RETRIES)
        self._shared: dict[int, object] = {}  # scorer → its object-store reference: each travels once
        self.task_errors: tuple[type[BaseException], ...] = (ray.exceptions.RayError,)
        where = "a local Ray instance" if local else f"the Ray cluster at {address}"
        console.print(f"scoring on {where}: {self.cpus} CPU(s){', GPU tasks' if gpu else ''}", highlight=False)

    async def detect(self, video: str, scorer: Scorer | None) -> tuple[Detection, str | None]:
        if id(scorer) not in self._shared:
            self._shared[id(scorer)] = self.ray.put(scorer)
        job = self.job
        return await self._task.remote(self._shared[id(scorer)], job.settings, job.taxonomy, job.rules, job.fps,
                                       job.device, video)

    def close(self) -> None:
        self.ray.shutdown()
