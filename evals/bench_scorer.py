"""Scorer speed on CPU and GPU in the same run, and what the learned tier reaches on Ped2.

    python evals/bench_scorer.py --root DIR (or $VADAGENT_DATA)

1. The learned tier's network alone, on frames already decoded at network size: training seconds
   per epoch and inference frames/s for every device present, as a ratio to the CPU in the same run.
2. End to end (decode + features + tiers), `eval detect` protocol: the default tier set held to
   2 cores (the baseline, in a child process under taskset), then the default set and the set with
   the learned tier on all cores, and on the GPU when there is one, the default set also with its
   test videos side by side in processes (one per two cores, and one per core) — frame AUC
   (micro/macro, raw and smoothed), fit seconds, frames/s and the ratio to the baseline.
3. Where a frame's time goes with the default tiers, stage by stage on the CPU (decoding,
   decoding with optical flow, each tier's reading and scoring, end to end), so speed work and the
   GPU port start from the costly stage; and end to end four ways, interleaved: clip by clip
   (`Scorer.score` of each), in turn (`Scorer.score_each`, as `eval detect` scores them: the next
   clip decoded while this one's last frames are read), the same frames as one stream (a camera's
   long recording), and clips scored side by side in processes (one per two cores, at least two).
   `--stages-only` runs this part alone.
`--short` runs three rows of part 2 alone (the 2-core baseline, the default set with a process per core,
the learned set on the GPU): what a device machine's last minutes hold.
Writes evals/results/bench_scorer.{md,json} (or --name).

On a lent GPU machine (nothing reachable from it; a working tree of at most 64 MiB travels):
`python evals/device_kit.py pack --root …` here, then `bash .device/run.sh` there with `.device` carried
(the wheels its Python lacks, vadagent without dependencies, Ped2 as H.264, this script's full run into
$OUT; see evals/device_kit.py).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from vadagent.devices import usable_cores
from vadagent.evals.common import add_data_argument, add_results_argument, write_results
from vadagent.evals.datasets import LabelledVideo, load_ucsd
from vadagent.evals.detect import run_detect
from vadagent.tools.scorer import Scorer, ScorerConfig, SourceSpec
from vadagent.tools.scorer.frames import chunks
from vadagent.tools.scorer.net import PredictorConfig
from vadagent.tools.scorer.side_by_side import SideBySide, default_workers
from vadagent.tools.scorer.train import predictor_errors, train_predictor
from vadagent.tools.video import frame_files, open_video

BASELINE_CORES = 2  # the machine the CPU figures elsewhere are measured on
ROUNDS = 3  # end to end clip by clip, in turn and as one stream, interleaved: the median of each
ONE_STREAM = "end to end, the clips as one stream"


def _small_frames(folder, size: tuple[int, int], fps: float) -> np.ndarray:
    with open_video(str(folder), fps=fps) as video:
        return np.concatenate([
            np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in batch.frames])
            for batch in video.scan(gray=True, chunk=128)
        ])


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def network_speed(train: list[np.ndarray], test: list[np.ndarray], devices: list[str], epochs: int,
                  repeats: int = 5) -> list[dict]:
    config = PredictorConfig()
    frames = sum(len(c) for c in test)
    rows = []
    for device in devices:
        _sync(device)
        started = time.perf_counter()
        model = train_predictor(train, config, epochs=epochs, device=device)
        _sync(device)
        train_s = (time.perf_counter() - started) / epochs
        predictor_errors(model, test[0], device)  # warm-up (kernels, allocator)
        best = {}
        for batch in (256, 2048):
            times = []
            for _ in range(repeats):
                _sync(device)
                started = time.perf_counter()
                for clip in test:
                    predictor_errors(model, clip, device, batch=batch)
                _sync(device)
                times.append(time.perf_counter() - started)
            best[batch] = frames / min(times)
        rows.append({"device": device, "train_seconds_per_epoch": round(train_s, 3),
                     "infer_fps_batch256": round(best[256], 1), "infer_fps_batch2048": round(best[2048], 1)})
    cpu = rows[0]
    for row in rows:
        row["train_speedup_vs_cpu"] = round(cpu["train_seconds_per_epoch"] / row["train_seconds_per_epoch"], 2)
        row["infer_speedup_vs_cpu"] = round(max(row["infer_fps_batch256"], row["infer_fps_batch2048"])
                                            / max(cpu["infer_fps_batch256"], cpu["infer_fps_batch2048"]), 2)
    return rows


ROW_KEYS = ("micro_auc", "micro_auc_smoothed", "macro_auc", "macro_auc_smoothed", "event_recall_at_10pct",
            "fit_seconds", "frames_per_second")


def detect_row(root: Path, tiers: list[str], device: str, workers: int = 1) -> dict:
    """One `eval detect` run (`workers` test videos at once), with the cores it was allowed and the CPU
    time it used per wall second."""
    data = load_ucsd(root)
    result, _, busy = _timed(lambda: run_detect(data, ScorerConfig(tiers=tiers), device=device, workers=workers),
                             children=workers > 1)
    return {"tiers": "+".join(tiers), "device": device, "cores_allowed": usable_cores(), "workers": workers,
            "cores_busy": round(busy, 2)} | {k: result[k] for k in ROW_KEYS}


def pinned_row(root: Path, tiers: list[str], cores: int) -> dict | None:
    """The same run in a child process held to `cores` CPUs (taskset): the small-machine baseline,
    measured on this machine in this run."""
    if shutil.which("taskset") is None or usable_cores() < cores:
        return None
    command = ["taskset", "-c", f"0-{cores - 1}", sys.executable, __file__, "--root", str(root),
               "--one-row", ",".join(tiers), "cpu"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def stage_costs(root: Path, device: str) -> list[dict]:
    """Milliseconds per frame of each stage of scoring Ped2's test clips with the default tiers fitted
    on its training clips (no selection). Stages are timed one after another on frames already read,
    except decoding and flow; end to end they overlap (flow runs a chunk ahead in worker threads), so
    the stages add up to more than the end-to-end time."""
    data = load_ucsd(root)
    scorer = Scorer.fit([SourceSpec(str(p)) for p in data.train], ScorerConfig(select=False), folder_fps=data.fps,
                        device=device)

    def read(flow: str | None) -> tuple[list, float]:
        started, chunked = time.perf_counter(), []
        for video in data.test:
            with open_video(str(video.path), folder_fps=data.fps) as source:
                chunked += list(chunks(source, scorer.width, scorer.height, flow=flow, chunk=scorer.config.chunk_frames))
        return chunked, time.perf_counter() - started

    _, decoding = read(None)
    frames, flowing = read(scorer.config.flow_for(scorer.tiers))
    count = sum(len(c) for c in frames)
    seconds = {"decoding": decoding, f"decoding and {scorer.config.flow} flow": flowing}
    for name, tier in scorer.tiers.items():
        reader, started = tier.reader(), time.perf_counter()
        parts = [reader.feed(chunk) for chunk in frames]
        seconds[f"{name}: reading"] = time.perf_counter() - started
        started = time.perf_counter()
        for part in parts:
            tier.score(part, device)
        seconds[f"{name}: scoring"] = time.perf_counter() - started
    paths = [video.path for video in data.test]
    ways = {"end to end, clip by clip": lambda: [scorer.score(p, folder_fps=data.fps, device=device) for p in paths],
            "end to end, the clips in turn": lambda: list(scorer.score_each(paths, folder_fps=data.fps, device=device))}
    workers = default_workers()
    side_by_side = f"end to end, {workers} clips at once (processes)"
    timed: dict[str, list[tuple[float, float]]] = {way: [] for way in [*ways, ONE_STREAM, side_by_side]}
    with tempfile.TemporaryDirectory() as folder, SideBySide(workers) as pool:
        stream = _one_stream(data.test, Path(folder))
        ways[ONE_STREAM] = lambda: scorer.score(stream, folder_fps=data.fps, device=device)
        ways[side_by_side] = lambda: list(pool.score([(scorer, p) for p in paths], folder_fps=data.fps, device=device))
        for _ in range(ROUNDS):
            for way, work in ways.items():
                timed[way].append(_timed(work, children=way == side_by_side)[1:])
    busy = {}
    for way, runs in timed.items():
        seconds[way] = statistics.median(t for t, _ in runs)
        busy[way] = statistics.median(b for _, b in runs)
    whole = seconds["end to end, clip by clip"]
    return [{"device": device, "stage": stage, "ms_per_frame": round(1000 * s / count, 3),
             "share_of_end_to_end": round(s / whole, 2), "frames_per_second": round(count / s, 1),
             "cores_busy": round(busy[stage], 2) if stage in busy else None} for stage, s in seconds.items()]


def _one_stream(videos: list[LabelledVideo], folder: Path) -> Path:
    """The clips' frames one after another in one frame folder (linked, or copied where links fail)."""
    number = 0
    for video in videos:
        for frame in frame_files(Path(video.path)):
            target = folder / f"{number:06d}{frame.suffix}"
            try:
                target.symlink_to(frame.resolve())
            except OSError:
                shutil.copyfile(frame, target)
            number += 1
    return folder


def _timed(work, children: bool = False):
    """`work()`, its wall seconds and the CPU time it used per wall-clock second (with `children`, its
    child processes' too)."""
    before, started = _cpu_seconds(children), time.perf_counter()
    value = work()
    after, wall = _cpu_seconds(children), time.perf_counter() - started
    return value, wall, (after - before) / wall


def _cpu_seconds(children: bool) -> float:
    """CPU seconds of this process, and with `children` of its child processes as well: those that
    have ended (`getrusage`) and those still running (psutil reads them from /proc; a pool's workers
    live on between rounds)."""
    who = [resource.RUSAGE_SELF] + ([resource.RUSAGE_CHILDREN] if children else [])
    seconds = sum(usage.ru_utime + usage.ru_stime for usage in map(resource.getrusage, who))
    if children:
        import psutil

        seconds += sum(sum(child.cpu_times()[:2]) for child in psutil.Process().children(recursive=True))
    return seconds


def stage_lines(stages: list[dict]) -> list[str]:
    return ["## Where a frame's time goes (default tiers, Ped2's test clips)", "",
            "Stages timed one after another; end to end they overlap (flow runs ahead in worker threads), so "
            "their shares add up to more than 1. End to end: clip by clip, in turn (the next clip decoded while "
            "this one's last frames are read, as `eval detect` does), as one stream, and clips side by side in "
            "processes (`eval detect --workers`; the processes started before the rounds), interleaved, the "
            f"median of {ROUNDS} rounds each; 'cores busy' is the CPU time used per wall-clock second (the "
            "processes' included).", "",
            "| device | stage | ms / frame | frames/s | share of end to end | cores busy |",
            "|---|---|---|---|---|---|"] + [
        f"| {r['device']} | {r['stage']} | {r['ms_per_frame']} | {r.get('frames_per_second', '–')} | "
        f"{r['share_of_end_to_end']} | {r.get('cores_busy') or '–'} |" for r in stages]


def _network_rows(data, devices: list[str], epochs: int) -> list[dict]:
    size = (PredictorConfig().width, PredictorConfig().height)
    train = [_small_frames(p, size, data.fps) for p in data.train]
    test = [_small_frames(v.path, size, data.fps) for v in data.test]
    print(f"decoded {sum(map(len, train))} training and {sum(map(len, test))} test frames at {size}", flush=True)
    rows = network_speed(train, test, devices, epochs)
    for row in rows:
        print(row, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser, "--root", "ucsd_ped2")
    add_results_argument(parser)
    parser.add_argument("--epochs", type=int, default=3, help="epochs timed for the network-alone comparison")
    parser.add_argument("--name", default="bench_scorer")
    parser.add_argument("--note", default="", help="a line about the data (e.g. how it was transferred)")
    parser.add_argument("--stages-only", action="store_true", help="only where a frame's time goes (part 3)")
    parser.add_argument("--short", action="store_true",
                        help="part 2 alone, three rows: the 2-core baseline, the default set with a process per core, "
                             "and the learned set on the GPU (for a device machine's last minutes)")
    parser.add_argument("--one-row", nargs=2, metavar=("TIERS", "DEVICE"), help=argparse.SUPPRESS)  # the pinned child
    args = parser.parse_args()
    if args.one_row:
        print(json.dumps(detect_row(args.root, args.one_row[0].split(","), args.one_row[1])))
        return

    data = load_ucsd(args.root)
    gpu = "cuda" if torch.cuda.is_available() else None
    devices = ["cpu"] + ([gpu] if gpu else [])
    # the stages are the CPU's: the default tiers do no GPU work (on the GPU machine's earlier run their rows
    # read the same on both devices), and a device's time is short (evals/device_kit.py runs all this at once)
    stages = [] if args.short else stage_costs(args.root, "cpu")
    for row in stages:
        print(row, flush=True)
    if args.stages_only:
        lines = [f"# Scorer stages ({data.name})", "", *([args.note, ""] if args.note else []), *stage_lines(stages)]
        print(write_results(args.name, {"dataset": data.name, "stages": stages}, "\n".join(lines), args.results).read_text())
        return
    network = [] if args.short else _network_rows(data, devices, args.epochs)

    default, learned = ScorerConfig().tiers, ["motion", "objects", "predictor"]
    baseline = pinned_row(args.root, default, BASELINE_CORES)
    end_to_end = [dict(baseline, run=f"{BASELINE_CORES} cores")] if baseline else []
    for row in end_to_end:  # printed as measured, so a later row's failure does not lose it
        print(row, flush=True)
    side_by_side = sorted({default_workers(), usable_cores()})  # a process per two cores, and per core
    runs = [(default, "cpu", 1), *((default, "cpu", n) for n in side_by_side), (learned, "cpu", 1)]
    runs += [(default, gpu, 1), *((default, gpu, n) for n in side_by_side), (learned, gpu, 1)] if gpu else []
    if args.short:
        runs = [(default, gpu or "cpu", usable_cores()), *([(learned, gpu, 1)] if gpu else [])]
    for tiers, device, at_once in runs:
        end_to_end.append(dict(detect_row(args.root, tiers, device, at_once), run="all cores"))
        print(end_to_end[-1], flush=True)
    reference = end_to_end[0]["frames_per_second"]
    for row in end_to_end:
        row["speed_vs_first_row"] = round(row["frames_per_second"] / reference, 2)

    payload = {"dataset": data.name, "root": str(args.root), "note": args.note, "network_alone": network,
               "end_to_end": end_to_end, "stages": stages, "smoothing_sigma": 3.0,
               "gpu": torch.cuda.get_device_name(0) if gpu else None}
    lines = [f"# Scorer speed, CPU vs GPU ({data.name})", "", args.note, ""]
    if network:
        lines += ["## Learned tier's network alone (frames already decoded at network size)", "",
                  "| device | train s/epoch | ×CPU | infer f/s (batch 256) | infer f/s (batch 2048) | ×CPU |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {r['device']} | {r['train_seconds_per_epoch']} | {r['train_speedup_vs_cpu']} | "
                  f"{r['infer_fps_batch256']} | {r['infer_fps_batch2048']} | {r['infer_speedup_vs_cpu']} |" for r in network]
        lines += [""]
    lines += ["## End to end (decode + features + tiers; `eval detect` protocol, micro and macro frame AUC, "
              "σ = 3 for smoothed)", "",
              f"The first row is held to {BASELINE_CORES} cores with taskset in a child process; 'cores busy' is the "
              "CPU time used per wall-clock second, fit included; 'videos at once': test videos scored side by side, "
              "each in its own process (frames/s is then the pool's, its start not counted).", "",
              "| tiers | device | cores | videos at once | cores busy | micro AUC | micro σ3 | macro AUC | macro σ3 | "
              "event recall | fit s | frames/s | ×first row |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['tiers']} | {r['device']} | {r['cores_allowed']} | {r.get('workers', 1)} | {r['cores_busy']} | "
              f"{r['micro_auc']} | "
              f"{r['micro_auc_smoothed']} | {r['macro_auc']} | {r['macro_auc_smoothed']} | {r['event_recall_at_10pct']} | "
              f"{r['fit_seconds']} | {r['frames_per_second']} | {r['speed_vs_first_row']} |" for r in end_to_end]
    lines += ["", *stage_lines(stages)] if stages else []
    print(write_results(args.name, payload, "\n".join(lines), args.results).read_text())


if __name__ == "__main__":
    main()
