"""Explain on the 12 UCSD Ped2 test clips: VLM calls, event coverage, wall time per stage.

    python evals/bench_explain.py [--vlm SPEC] --data DIR (or $VADAGENT_DATA)

Fits the scorer on the 16 training clips, explains every test clip, and reports the VLM calls
made (reflection rounds and validation retries included) against one call per 16 frames (VERA's
rate), and the share of anomalous events (maximal runs of anomalous frames) overlapped by a
judged candidate. Without --vlm it builds a tiny random Qwen2.5-VL: its answers are noise, so
reflection re-asks up to its bound and the call count is a worst case; the coverage depends
on the candidates only. Writes evals/results/bench_explain.{md,json}.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from vadagent.agents.explain.run import explain_video
from vadagent.evals.common import add_data_argument, add_results_argument, write_results
from vadagent.evals.datasets import load_frame_dataset
from vadagent.evals.detection import events as label_events
from vadagent.taxonomy import load_taxonomy
from vadagent.tools.scorer import Scorer, ScorerConfig, SourceSpec
from vadagent.tools.vlm import make_client

VERA_FRAMES_PER_CALL = 16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_argument(parser)
    add_results_argument(parser)
    parser.add_argument("--vlm", default=None, help="model string (default: a tiny random Qwen2.5-VL built here)")
    args = parser.parse_args()
    data = load_frame_dataset("ucsd_ped2", args.data / "ucsd_ped2")
    with tempfile.TemporaryDirectory() as folder:
        spec = args.vlm
        if spec is None:
            from vadagent.tools.vlm.tiny import build_tiny_vlm

            spec = f"hf:{build_tiny_vlm('qwen2_5_vl', folder)}"
        client = make_client(spec)
        started = time.perf_counter()
        scorer = Scorer.fit([SourceSpec(str(p)) for p in data.train], ScorerConfig(), folder_fps=data.fps)
        fit_s = time.perf_counter() - started
        rows, stage = [], {"fit": fit_s, "score": 0.0, "explain": 0.0}
        for video in data.test:
            report, _ = explain_video(str(video.path), scorer, client, load_taxonomy("generic"), None,
                                      folder_fps=data.fps)
            for key in ("score", "explain"):
                stage[key] += report.timings_s.get(key, 0.0)
            judged = [(round(e.start_s * data.fps), round(e.end_s * data.fps)) for e in report.events]
            truth = label_events(video.labels)
            covered = sum(any(s <= b and a <= e for s, e in judged) for a, b in truth)
            rows.append({"clip": video.name, "frames": len(video.labels), "candidates": len(report.scorer.candidates),
                         "judged": len(report.events), "calls": report.usage.calls, "events": len(truth),
                         "covered": covered})
            print(f"clip {video.name}: {rows[-1]}")
    frames = sum(r["frames"] for r in rows)
    calls = sum(r["calls"] for r in rows)
    baseline = frames / VERA_FRAMES_PER_CALL
    result = {
        "vlm": spec if args.vlm else "tiny random Qwen2.5-VL (worst case for reflection rounds)",
        "frames": frames, "vlm_calls": calls, "calls_one_per_16_frames": round(baseline, 1),
        "fewer_calls_factor": round(baseline / max(calls, 1), 2),
        "events": sum(r["events"] for r in rows), "events_covered": sum(r["covered"] for r in rows),
        "event_coverage": round(sum(r["covered"] for r in rows) / max(sum(r["events"] for r in rows), 1), 4),
        "wall_s": {k: round(v, 2) for k, v in stage.items()}, "clips": rows,
    }
    lines = ["# Explain on UCSD Ped2 (12 test clips)", "",
             "| VLM | frames | VLM calls | one call / 16 frames | × fewer | events covered | fit s | score s | explain s |",
             "|---|---|---|---|---|---|---|---|---|",
             f"| {result['vlm']} | {frames} | {calls} | {result['calls_one_per_16_frames']} | "
             f"{result['fewer_calls_factor']} | {result['events_covered']}/{result['events']} | "
             f"{result['wall_s']['fit']} | {result['wall_s']['score']} | {result['wall_s']['explain']} |", "",
             "VLM calls include reflection rounds and validation retries. An event is covered when a judged "
             "candidate overlaps it."]
    print("written to", write_results("bench_explain", result, "\n".join(lines), args.results))


if __name__ == "__main__":
    main()
