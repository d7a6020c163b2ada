"""VLM client speed: its own overhead per call, and concurrent against sequential calls.

    python evals/bench_vlm.py [--calls 40]

1. Overhead (model time excluded): a local server that answers at once; the same requests sent
   as raw pre-built httpx POSTs (baseline) and through `OpenAICompatibleClient.generate` (image
   encoding, request building, validation). Overhead = difference per call.
2. Concurrency: 8 image requests to a real local server (`transformers serve`, tiny Qwen2.5-VL on
   the CPU), sequentially (concurrency 1) and with concurrency 4, same run.
Writes evals/results/bench_vlm.{md,json}.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from pydantic import BaseModel

from vadagent.evals.common import Timer, add_results_argument, write_results
from vadagent.evals.servers import answering_server
from vadagent.evals.servers import url as server_url
from vadagent.tools.vlm import Image, Message, Sampling
from vadagent.tools.vlm.http import OpenAICompatibleClient
from vadagent.tools.vlm.tiny import build_tiny_vlm


class Verdict(BaseModel):
    anomalous: bool
    reason: str


ANSWER = '{"anomalous": false, "reason": "walkers"}'


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def overhead(calls: int) -> dict:
    server = answering_server(ANSWER, keep_alive=False)
    url = server_url(server)
    frame = np.random.default_rng(0).integers(0, 255, (480, 852, 3), dtype=np.uint8)
    client = OpenAICompatibleClient("m", url)
    messages = [Message.user(Image(frame, 1.0), "Is this anomalous?")]
    body = client.request_body(messages, Verdict.model_json_schema(), Sampling())
    with httpx.Client(base_url=url) as raw:
        raw.post("/chat/completions", json=body)  # warm up
        with Timer() as base:
            for _ in range(calls):
                raw.post("/chat/completions", json=body).json()
    client.generate(messages, Verdict)
    with Timer() as full:
        for _ in range(calls):
            client.generate(messages, Verdict)
    server.shutdown()
    return {"calls": calls, "raw_post_ms": round(1000 * base.seconds / calls, 2),
            "client_ms": round(1000 * full.seconds / calls, 2),
            "overhead_ms": round(1000 * (full.seconds - base.seconds) / calls, 2)}


def concurrency(requests: int = 8) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        build_tiny_vlm("qwen2_5_vl", folder)
        port = _port()
        exe = str(Path(sys.executable).with_name("transformers"))
        process = subprocess.Popen([exe, "serve", folder, "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/v1"
        try:
            for _ in range(240):
                try:
                    if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            rng = np.random.default_rng(1)
            convs = [[Message.user(Image(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)), "Describe.")]
                     for _ in range(requests)]
            sampling = Sampling(max_tokens=32)
            OpenAICompatibleClient(folder, url).generate(convs[0], sampling=sampling)  # warm up
            times = {}
            for label, n in (("sequential", 1), ("concurrent_4", 4)):
                client = OpenAICompatibleClient(folder, url, concurrency=n, timeout_s=120)
                with Timer() as timer:
                    client.generate_many(convs, sampling=sampling)
                times[label] = timer.seconds
        finally:
            process.terminate()
            process.wait(timeout=30)
    return {"requests": requests, "server": "transformers serve, tiny Qwen2.5-VL, CPU",
            "sequential_s": round(times["sequential"], 3), "concurrent_4_s": round(times["concurrent_4"], 3),
            "speedup": round(times["sequential"] / times["concurrent_4"], 2)}


def overlapping_server(requests: int = 8, delay_s: float = 0.2) -> dict:
    """A local server whose every answer takes `delay_s` and that answers requests in parallel,
    as a batching server (vLLM) does: what the client's concurrency can gain at best."""
    server = answering_server(ANSWER, delay_s, keep_alive=False)
    url = server_url(server)
    convs = [[Message.user(f"question {i}")] for i in range(requests)]
    times = {}
    for label, n in (("sequential", 1), ("concurrent_4", 4)):
        with Timer() as timer:
            OpenAICompatibleClient("m", url, concurrency=n).generate_many(convs, Verdict)
        times[label] = timer.seconds
    server.shutdown()
    return {"requests": requests, "server": f"local server answering in parallel after {delay_s * 1000:.0f} ms",
            "sequential_s": round(times["sequential"], 3), "concurrent_4_s": round(times["concurrent_4"], 3),
            "speedup": round(times["sequential"] / times["concurrent_4"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=40)
    add_results_argument(parser)
    args = parser.parse_args()
    over = overhead(args.calls)
    print(f"overhead: raw POST {over['raw_post_ms']} ms, client {over['client_ms']} ms → {over['overhead_ms']} ms per call")
    conc = concurrency()
    ideal = overlapping_server()
    for row in (conc, ideal):
        print(f"{row['server']}: sequential {row['sequential_s']} s, 4 at once {row['concurrent_4_s']} s → ×{row['speedup']}")
    lines = ["# VLM client speed", "",
             "## Overhead per call (model time excluded; 852×480 image, schema, validation)", "",
             "| calls | raw httpx POST (baseline) ms | vadagent client ms | overhead ms |", "|---|---|---|---|",
             f"| {over['calls']} | {over['raw_post_ms']} | {over['client_ms']} | {over['overhead_ms']} |", "",
             "## Concurrent vs sequential, same run", "",
             "| server | requests | sequential s | concurrency 4 s | speed-up |", "|---|---|---|---|---|"]
    lines += [f"| {r['server']} | {r['requests']} | {r['sequential_s']} | {r['concurrent_4_s']} | ×{r['speedup']} |"
              for r in (conc, ideal)]
    lines += ["", "`transformers serve` (no continuous batching) runs one generation at a time, so concurrency "
              "cannot help there; a server that overlaps requests, as vLLM does by batching, gets the second row."]
    payload = {"overhead": over, "concurrency": conc, "concurrency_overlapping_server": ideal}
    print("written to", write_results("bench_vlm", payload, "\n".join(lines), args.results))


if __name__ == "__main__":
    main()
