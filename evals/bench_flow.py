"""Which optical-flow preset the scorer uses: measured on normal footage, chosen without test labels.

    python evals/bench_flow.py --root DIR (or $VADAGENT_DATA) [--frames 400] [--presets coarse,quick,...]

For each preset in tools/scorer/frames.FLOW_PRESETS, on one labelled site (UCSD Ped2 by default):
- speed: DIS alone on the first --frames training frames at the flow's size (frames.FLOW_STEP: half
  the working size), computed as the scorer computes it (blocks of frame pairs on its flow pool, one
  DIS per thread: 2 threads on a 2-core machine), frames/s and the ratio to the coarse preset
  measured in the same run; and
  end to end with the default tiers (decoding, flow, tiers, fusion): a scorer per preset scores the
  same --clips test videos in turn, --rounds times interleaved, the median frames/s of each;
- flow quality without labels: the mean absolute error of the next frame predicted by warping the
  previous one along the flow (gray levels; lower = the flow explains the motion better);
- self-validation: `fit --select` on the training footage (synthetic anomalies in each held-out
  fold of the normal footage), the AUC of every tier set it tried and of the one it chose — this
  is what the default is chosen on: the highest chosen self-validation AUC, ties (< 0.005) to the
  faster preset;
- for the record only (not used to choose): the `eval detect` protocol on the test videos with
  the default tiers at equal weights (`--no-select`), and self-validated (the default).
Writes evals/results/bench_flow.{md,json}.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from vadagent.evals.common import add_data_argument, add_results_argument, write_results
from vadagent.evals.datasets import load_ucsd
from vadagent.evals.detect import run_detect
from vadagent.tools.scorer import Scorer, ScorerConfig, SourceSpec
from vadagent.tools.scorer.frames import (
    DEFAULT_FLOW,
    FLOW_PRESETS,
    FLOW_THREADS,
    check_flow,
    flow_size,
    flows_of,
    working_size,
)
from vadagent.tools.video import open_video

TIE = 0.005
TEST_KEYS = ["micro_auc", "micro_auc_smoothed", "macro_auc", "event_recall_at_10pct", "frames_per_second"]


def training_frames(paths: list, count: int, fps: float) -> np.ndarray:
    frames = []
    for path in paths:
        with open_video(str(path), folder_fps=fps) as video:
            size = flow_size(*working_size(video.info.width, video.info.height))
            for batch in video.scan(gray=True, chunk=64):
                frames += [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in batch.frames]
                if len(frames) >= count:
                    return np.stack(frames[:count])
    return np.stack(frames)


def flow_speed_and_error(frames: np.ndarray, preset: str) -> tuple[float, float]:
    """Frames/s of the preset's flow computed as the scorer computes it (blocks of pairs on its flow
    pool, one DIS per thread), and its warp error."""
    pairs = list(zip(frames[:-1], frames[1:]))
    flows_of(preset, pairs[: 2 * FLOW_THREADS])  # the pool started before timing
    started = time.perf_counter()
    flows = flows_of(preset, pairs)
    seconds = time.perf_counter() - started
    height, width = frames.shape[1:]
    grid = np.stack(np.meshgrid(np.arange(width), np.arange(height)), -1).astype(np.float32)
    errors = []
    for previous, frame, flow in zip(frames[:-1], frames[1:], flows):
        # backward warp: the pixel at p in `frame` came from p - flow(p) in `previous` (flow is small)
        warped = cv2.remap(previous, grid - flow, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        errors.append(float(np.abs(warped.astype(np.float32) - frame).mean()))
    return len(flows) / seconds, float(np.mean(errors))


def end_to_end_rates(data, presets: list[str], clips: int, rounds: int) -> dict[str, float]:
    """Frames/s of the default tiers with each preset, interleaved in one process so the machine's
    drift hits them alike (fitted on the first four training clips at equal weights: speed, not accuracy)."""
    scorers = {p: Scorer.fit([SourceSpec(str(v)) for v in data.train[:4]], ScorerConfig(flow=p, select=False),
                             folder_fps=data.fps) for p in presets}
    rates: dict[str, list[float]] = {p: [] for p in presets}
    for _ in range(rounds):
        for preset, scorer in scorers.items():
            started, frames = time.perf_counter(), 0
            for video in data.test[:clips]:
                frames += len(scorer.score(video.path, folder_fps=data.fps).scores)
            rates[preset].append(frames / (time.perf_counter() - started))
    return {p: round(float(np.median(r)), 1) for p, r in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser, "--root", "ucsd_ped2")
    add_results_argument(parser)
    parser.add_argument("--frames", type=int, default=400, help="training frames for the speed and warp figures")
    parser.add_argument("--sigma", type=float, default=3.0)
    parser.add_argument("--clips", type=int, default=6, help="test videos for the end-to-end speed")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the end-to-end speed")
    parser.add_argument("--presets", default=",".join(FLOW_PRESETS),
                        help="comma-separated presets to compare (coarse, the speed baseline, is always measured)")
    args = parser.parse_args()
    presets = ["coarse", *(p for p in map(check_flow, args.presets.split(",")) if p != "coarse")]
    data = load_ucsd(args.root)
    frames = training_frames(data.train, args.frames, data.fps)
    end_to_end = end_to_end_rates(data, presets, args.clips, args.rounds)
    print("end to end, frames/s (median of interleaved rounds):", end_to_end, flush=True)
    rows = []
    for preset in presets:
        fps, error = flow_speed_and_error(frames, preset)
        chosen = run_detect(data, ScorerConfig(flow=preset, select=True), sigma=args.sigma)
        equal = run_detect(data, ScorerConfig(flow=preset, select=False), sigma=args.sigma)
        selection = chosen["selection"]
        rows.append({"preset": preset, "settings": FLOW_PRESETS[preset], "flow_fps": round(fps, 1),
                     "end_to_end_fps": end_to_end[preset],
                     "warp_error": round(error, 3), "self_validation_auc": selection["chosen"]["auc"],
                     "self_validation_chose": "+".join(selection["chosen"]["tiers"]), "selection": selection,
                     "equal_weights": {k: equal[k] for k in TEST_KEYS}, "selected_set": {k: chosen[k] for k in TEST_KEYS}})
        print(f"{preset:7s} flow {fps:6.1f} f/s warp error {error:.3f} self-validation {rows[-1]['self_validation_auc']} "
              f"({rows[-1]['self_validation_chose']}) | test, equal weights: "
              + " ".join(f"{k}={equal[k]}" for k in TEST_KEYS), flush=True)
    base = next(r["flow_fps"] for r in rows if r["preset"] == "coarse")
    base_end = next(r["end_to_end_fps"] for r in rows if r["preset"] == "coarse")
    for row in rows:
        row["flow_speed_vs_coarse"] = round(row["flow_fps"] / base, 3)
        row["end_to_end_vs_coarse"] = round(row["end_to_end_fps"] / base_end, 3)
    best = max(r["self_validation_auc"] for r in rows)
    pick = max((r for r in rows if r["self_validation_auc"] >= best - TIE), key=lambda r: r["flow_fps"])["preset"]
    lines = [f"# Optical-flow presets on {data.name}", "",
             f"Flow speed: DIS alone on {len(frames)} training frames at half the working size, on the scorer's flow "
             "pool (one DIS per thread), this machine, one run (ratio to coarse in the same run). End to end: the default "
             "tiers with each preset, decoding "
             f"included, on the same {args.clips} test videos scored in turn, median of {args.rounds} interleaved "
             "rounds (ratio to coarse). Warp error: mean absolute gray-level error of the next frame "
             "predicted along the flow (no labels). Self-validation: `fit --select` AUC on synthetic anomalies in "
             "held-out folds of the training footage, the best tier set's. The default is chosen on self-validation only "
             f"(ties < {TIE} to the faster): **{pick}** (shipped default: {DEFAULT_FLOW}). Test columns are for the "
             f"record and were not used to choose (micro/macro frame AUC raw, smoothed sigma {args.sigma:g}; "
             "event recall at 10 %).", "",
             "| preset | flow f/s | vs coarse | end to end f/s | vs coarse | warp error | self-validation AUC (chose) | "
             "equal weights micro / smoothed / macro / recall@10 % | self-validated (default) micro / macro |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        d, s = r["equal_weights"], r["selected_set"]
        lines.append(f"| {r['preset']} | {r['flow_fps']} | {r['flow_speed_vs_coarse']} | {r['end_to_end_fps']} | "
                     f"{r['end_to_end_vs_coarse']} | {r['warp_error']} | "
                     f"{r['self_validation_auc']} ({r['self_validation_chose']}) | {d['micro_auc']} / "
                     f"{d['micro_auc_smoothed']} / {d['macro_auc']} / {d['event_recall_at_10pct']} | "
                     f"{s['micro_auc']} / {s['macro_auc']} |")
    for r in rows:
        lines += ["", f"Selection log, {r['preset']} ({r['selection']['labels']}):", ""]
        lines += [f"- {'+'.join(t['tiers'])} {t['weights']}: {t['auc']}" for t in r["selection"]["tried"]]
    print(write_results("bench_flow", {"rows": rows, "chosen": pick, "shipped_default": DEFAULT_FLOW,
                                       "frames": len(frames)}, "\n".join(lines), args.results))


if __name__ == "__main__":
    main()
