"""Scale-out: the same batch through `report` alone, in processes and on a local Ray instance, and a pool of VLM servers.

    python evals/bench_cluster.py --data DIR (or $VADAGENT_DATA) [--latency 1.0] [--rounds 3]

1. Batch: eight real videos (the three clips and five UCSD Ped2 test folders, encoded to MP4 here),
   scored by one scorer fitted first, through (a) `vadagent report` scoring in threads of its own
   process (`--processes 0`, the default under four cores), (b) in two processes (`--processes 2`),
   (c) `--ray local --workers 1`, (d) `--ray local --workers 2`; videos per minute each. Then through
   one server that serves one request at a time (as an in-process model does): `--workers 1` (one
   video scored, then explained, then the next) against the default (the next video scored while one
   is explained). And the batch detection only (no model reachable: scoring alone, which the
   processes change), in threads and in two processes. Every setup runs once per round, the rounds
   interleaved (this machine is shared and noisy); the median and every round are reported.
   The VLM is a stand-in: real local HTTP servers answering a schema-valid judgement after a fixed
   latency, so the model side costs what it would.
2. Pool: 96 requests through `vllm:m@URL1,URL2,URL3` (three such servers, concurrency 4 each) against
   one server alone; requests per second beside the ceiling 3 × 4 / latency.
Writes evals/results/bench_cluster.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from vadagent.devices import usable_cores
from vadagent.evals.common import Timer, add_data_argument, add_results_argument, write_results
from vadagent.evals.servers import answering_server, url
from vadagent.tools.vlm import Message, make_client

JUDGED = {"category": "motion", "label": "fast object", "what": "an object moves fast", "cause": "unknown cause",
          "effect": "people look", "severity": 2, "severity_rationale": "nobody is hurt", "confidence": 0.7,
          "evidence_frames": [0], "matched_rules": []}


VADAGENT = str(Path(sys.executable).with_name("vadagent"))
NO_MODEL = "hf:/no/model"  # a model folder that is not there: no model from the start, every video detection only


def batch_videos(data: Path, folder: Path) -> list[Path]:
    from vadagent.tools.video import open_video

    folder.mkdir(parents=True, exist_ok=True)
    videos = []
    for clip in sorted((data / "clips").glob("*.mp4")):
        videos.append(folder / clip.name)
        videos[-1].write_bytes(clip.read_bytes())
    import av

    for name in ("01", "02", "03", "04", "05"):
        target = folder / f"ped2_test_{name}.mp4"
        with open_video(data / "ucsd_ped2" / "testing" / "frames" / name) as source, av.open(str(target), "w") as out:
            stream = out.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = source.info.width, source.info.height, "yuv420p"
            for batch in source.scan(gray=False):
                for frame in batch.frames:
                    out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            out.mux(stream.encode())
        videos.append(target)
    return videos


def run_batch(folder: Path, out: Path, spec: str, extra: list[str], env: dict[str, str] | None = None) -> float:
    """Seconds `report` took; it must succeed (exit 0), or only detect (exit 3) where no model answers."""
    command = [VADAGENT, "-q", "report", str(folder), "-o", str(out),
               "--vlm", spec, *extra]
    with Timer() as timer:
        result = subprocess.run(command, capture_output=True, text=True,
                                env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **(env or {})})
    if result.returncode not in ((0, 3) if spec == NO_MODEL else (0,)):
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return timer.seconds


def pool_rate(urls: list[str], requests: int) -> float:
    client = make_client("vllm:m@" + ",".join(urls), concurrency=4, max_retries=0)
    with Timer() as timer:
        answers = client.generate_many([[Message.user(f"request {i}")] for i in range(requests)])
    assert not any(isinstance(a, Exception) for a in answers)
    return requests / timer.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser)
    add_results_argument(parser)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds the VLM stand-in takes per request")
    parser.add_argument("--requests", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs of every setup")
    args = parser.parse_args()
    servers = [answering_server(json.dumps(JUDGED), args.latency) for _ in range(3)]
    urls = [url(s) for s in servers]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        videos = batch_videos(args.data, scratch / "videos")
        seconds = sum(_duration(v) for v in videos)
        scorer = scratch / "scorer"
        subprocess.run([VADAGENT, "-q", "fit", f"{args.data / 'clips' / 'robbery.mp4'}#t=0,10", "-o", str(scorer)],
                       check=True)
        spec = "vllm:m@" + ",".join(urls)
        one_at_a_time = {"VADAGENT_VLM__CONCURRENCY": "1"}  # a backend that serves one request at a time
        setups = (
            ("report, scoring in threads of its process (--processes 0)", spec, ["--processes", "0"], None),
            ("report, scoring in 2 processes (--processes 2)", spec, ["--processes", "2"], None),
            ("--ray local, 1 worker", spec, ["--ray", "local", "--workers", "1"], None),
            ("--ray local, 2 workers", spec, ["--ray", "local", "--workers", "2"], None),
            ("one server serving 1 request at a time, --workers 1", "vllm:m@" + urls[0],
             ["--workers", "1", "--processes", "0"], one_at_a_time),
            ("one server serving 1 request at a time, default (2 videos in flight)", "vllm:m@" + urls[0],
             ["--processes", "0"], one_at_a_time),
            ("detection only (no model), scoring in threads (--processes 0)", NO_MODEL, ["--processes", "0"], None),
            ("detection only (no model), scoring in 2 processes (--processes 2)", NO_MODEL, ["--processes", "2"], None))
        times: dict[str, list[float]] = {label: [] for label, *_ in setups}
        for round_ in range(args.rounds):
            for label, target, extra, env in setups:
                out = scratch / f"{label.replace(' ', '_')}_{round_}"
                times[label].append(run_batch(scratch / "videos", out, target, ["--scorer", str(scorer), *extra], env))
                print(label, round(times[label][-1], 1), flush=True)
        for label, took in times.items():
            median = statistics.median(took)
            rows.append({"setup": label, "videos": len(videos), "seconds": round(median, 1),
                         "rounds_s": [round(t, 1) for t in took], "videos_per_minute": round(60 * len(videos) / median, 2)})
            print(rows[-1], flush=True)
    pool = {"endpoints": 3, "concurrency_each": 4, "latency_s": args.latency, "requests": args.requests,
            "one_server_rps": round(pool_rate(urls[:1], args.requests // 3), 2),
            "pool_rps": round(pool_rate(urls, args.requests), 2), "ceiling_rps": round(3 * 4 / args.latency, 2)}
    print(pool)
    for server in servers:
        server.shutdown()
    lines = ["# Scale-out", "", f"{len(videos)} videos ({seconds:.0f} s of video: {', '.join(v.name for v in videos)}); "
             f"VLM stand-in: 3 local servers, {args.latency:g} s per request, through one endpoint pool (the "
             "'one server' rows: one of them, one request at a time; the 'detection only' rows: none); scorer fitted "
             f"once on robbery.mp4 0–10 s. This machine: {usable_cores()} cores; each setup the median of "
             f"{args.rounds} interleaved rounds.", "",
             "| setup | seconds (median) | every round (s) | videos per minute |", "|---|---|---|---|"]
    lines += [f"| {r['setup']} | {r['seconds']} | {', '.join(map(str, r['rounds_s']))} | {r['videos_per_minute']} |"
              for r in rows]
    lines += ["", f"Pool of {pool['endpoints']} servers × concurrency {pool['concurrency_each']}, {args.latency:g} s "
              f"latency: {pool['pool_rps']} requests/s (ceiling {pool['ceiling_rps']}); one server alone: "
              f"{pool['one_server_rps']} requests/s."]
    print("written to", write_results("bench_cluster", {"batch": rows, "pool": pool, "video_seconds": seconds},
                                      "\n".join(lines), args.results))


def _duration(video: Path) -> float:
    from vadagent.tools.video import open_video

    with open_video(video) as source:
        return source.info.duration_s


if __name__ == "__main__":
    main()
