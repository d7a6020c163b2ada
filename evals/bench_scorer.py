"""Scorer speed on CPU and GPU in the same run, and what a GPU-trained tier 1 reaches on Ped2.

    python evals/bench_scorer.py --root DIR (or $VADAGENT_DATA) [--long-epochs 40]

1. Tier-1 network alone, on frames already decoded at network size: training seconds per epoch
   and inference frames/s for every device present, as a ratio to the CPU in the same run.
2. End to end (decode + motion features + network), `eval detect` protocol: tier 0, tier 1 on
   the CPU, tier 1 on the GPU with the default epochs, and tier 1 on the GPU trained longer —
   frame AUC (micro/macro, raw and smoothed), fit seconds and frames/s.
Writes evals/results/bench_scorer.{md,json} (or --name).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import cv2
import numpy as np
import torch

from vadagent.evals.common import add_data_argument, add_results_argument, write_results
from vadagent.evals.datasets import load_ucsd
from vadagent.evals.detect import run_detect
from vadagent.tools.scorer import ScorerConfig
from vadagent.tools.scorer.net import PredictorConfig
from vadagent.tools.scorer.train import predictor_errors, train_predictor
from vadagent.tools.video import open_video


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser, "--root", "ucsd_ped2")
    add_results_argument(parser)
    parser.add_argument("--epochs", type=int, default=3, help="epochs timed for the network-alone comparison")
    parser.add_argument("--long-epochs", type=int, default=40, help="epochs for the longer GPU-trained tier 1")
    parser.add_argument("--name", default="bench_scorer")
    parser.add_argument("--note", default="", help="a line about the data (e.g. how it was transferred)")
    args = parser.parse_args()

    data = load_ucsd(args.root)
    gpu = "cuda" if torch.cuda.is_available() else None
    devices = ["cpu"] + ([gpu] if gpu else [])
    size = (PredictorConfig().width, PredictorConfig().height)
    train = [_small_frames(p, size, data.fps) for p in data.train]
    test = [_small_frames(v.path, size, data.fps) for v in data.test]
    print(f"decoded {sum(map(len, train))} training and {sum(map(len, test))} test frames at {size}", flush=True)

    network = network_speed(train, test, devices, args.epochs)
    for row in network:
        print(row, flush=True)

    default = ScorerConfig()
    learned = ScorerConfig(tiers=["motion", "predictor"])
    runs = [("+".join(default.tiers) + " (default)", default, "cpu"), ("motion+predictor", learned, "cpu")]
    if gpu:
        longer = replace(learned, params={"predictor": {"epochs": args.long_epochs}})
        runs += [("+".join(default.tiers) + " (default)", default, gpu), ("motion+predictor", learned, gpu),
                 (f"motion+predictor, {args.long_epochs} epochs", longer, gpu)]
    end_to_end = []
    for label, config, device in runs:
        result = run_detect(data, config, device=device)
        row = {"run": label, "device": device} | {k: result[k] for k in (
            "micro_auc", "micro_auc_smoothed", "macro_auc", "macro_auc_smoothed", "event_recall_at_10pct",
            "fit_seconds", "frames_per_second")}
        print(row, flush=True)
        end_to_end.append(row)

    payload = {"dataset": data.name, "root": str(args.root), "note": args.note, "network_alone": network,
               "end_to_end": end_to_end, "smoothing_sigma": 3.0,
               "gpu": torch.cuda.get_device_name(0) if gpu else None}
    lines = [f"# Scorer speed, CPU vs GPU ({data.name})", "", args.note, "",
             "## Tier-1 network alone (frames already decoded at network size)", "",
             "| device | train s/epoch | ×CPU | infer f/s (batch 256) | infer f/s (batch 2048) | ×CPU |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['device']} | {r['train_seconds_per_epoch']} | {r['train_speedup_vs_cpu']} | {r['infer_fps_batch256']} | "
              f"{r['infer_fps_batch2048']} | {r['infer_speedup_vs_cpu']} |" for r in network]
    lines += ["", "## End to end (decode + motion features + network; `eval detect` protocol, σ = 3 for smoothed)", "",
              "| run | device | micro AUC | micro σ3 | macro AUC | macro σ3 | event recall | fit s | frames/s |",
              "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['run']} | {r['device']} | {r['micro_auc']} | {r['micro_auc_smoothed']} | {r['macro_auc']} | "
              f"{r['macro_auc_smoothed']} | {r['event_recall_at_10pct']} | {r['fit_seconds']} | {r['frames_per_second']} |"
              for r in end_to_end]
    print(write_results(args.name, payload, "\n".join(lines), args.results).read_text())


if __name__ == "__main__":
    main()
