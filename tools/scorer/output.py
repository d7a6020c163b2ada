"""Writing a scoring run to a folder: scores, evidence, candidates and the timeline plot."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from vadagent.tools.scorer.plot import plot_timeline
from vadagent.tools.scorer.result import ScoreResult
from vadagent.types import Candidate


def write_scores(output: Path, result: ScoreResult, sigma: float, candidates: list[Candidate]) -> None:
    output.mkdir(parents=True, exist_ok=True)
    smoothed = result.smoothed(sigma)
    fps = result.info.fps
    with (output / "scores.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["frame", "time_s", "score"])
        writer.writerows((i, f"{i / fps:.3f}", f"{s:.4f}") for i, s in enumerate(smoothed))
    ev = result.evidence
    with (output / "evidence.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["frame", "x0", "y0", "x1", "y1", "speed_px_s", "direction_deg", "speed_vs_normal"])
        for row in zip(ev.frame, ev.box, ev.speed_px_s, ev.direction_deg, ev.vs_normal):
            writer.writerow([row[0], *row[1].tolist(), f"{row[2]:.1f}", f"{row[3]:.0f}", f"{row[4]:.2f}"])
    payload = {"video": result.info.model_dump(), "frame_scores": result.frame_scores(sigma).model_dump(),
               "skipped_packets": result.skipped, "damaged_frames": [list(span) for span in result.damaged],
               "paused_frames": [list(span) for span in result.paused],
               "picture": [{"from_frame": frame, "read": read or "as it came"} for frame, read in result.picture],
               "cuts": result.cuts, "clock": result.clock,
               "seconds": round(result.seconds, 3)}
    (output / "scores.json").write_text(json.dumps(payload) + "\n", encoding="utf-8")
    (output / "candidates.json").write_text(
        json.dumps([c.model_dump() for c in candidates], indent=2) + "\n", encoding="utf-8")
    plot_timeline(output / "timeline.png", smoothed, fps, threshold=result.threshold, candidates=candidates,
                  title=f"{Path(result.info.path).name} — {result.scorer_id}, sigma {sigma:g}")
