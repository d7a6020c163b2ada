"""`report.html`: a self-contained page (timeline, events, keyframe thumbnails) readable without the CLI.
A thumbnail of a frame that scored above the threshold has the scorer's evidence box drawn on it: the
region the explain graph named to the model, so a reader sees where to look, not only when."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

import cv2
import jinja2
import numpy as np

from vadagent.tools.scorer import ScoreResult
from vadagent.tools.scorer.plot import draw_box, plot_timeline
from vadagent.tools.video import open_video
from vadagent.types import VideoReport

THUMB_HEIGHT = 110


@dataclass(frozen=True)
class Thumbnail:
    time_s: float
    jpeg_base64: str
    marked: bool  # the scorer's evidence box is drawn on it


def flagged_box(scored: ScoreResult, frame: int) -> tuple[int, int, int, int] | None:
    """The evidence box (source pixels) of a frame whose own score, unsmoothed, reached the threshold: a box on
    a frame below it would point at the least ordinary thing in an ordinary picture (a smoothed score rises
    before an event comes into view)."""
    return scored.evidence_box(frame) if scored.scores[frame] >= scored.threshold else None


def _thumbnail(frame: np.ndarray, time_s: float, box: tuple[int, int, int, int] | None) -> Thumbnail:
    scale = THUMB_HEIGHT / frame.shape[0]
    small = cv2.resize(frame, (max(int(frame.shape[1] * scale), 1), THUMB_HEIGHT), interpolation=cv2.INTER_AREA)
    if box is not None:
        draw_box(small, box, scale)
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    return Thumbnail(float(time_s), base64.b64encode(jpeg.tobytes()).decode("ascii"), box is not None)


def _thumbnails(report: VideoReport, scored: ScoreResult, folder_fps: float) -> dict[str, list[Thumbnail]]:
    wanted = {e.id: e.evidence_frames[:6] for e in report.events if e.evidence_frames}
    if not report.explained:  # detection only: show what the judge would have seen
        wanted |= {f"c{c.candidate + 1}": c.keyframes_s[:8] for c in report.contexts if c.keyframes_s}
    if not wanted:
        return {}
    out: dict[str, list[Thumbnail]] = {}
    with open_video(report.video.path, folder_fps=folder_fps) as video:
        for event_id, times in wanted.items():
            batch = video.read_at(times)
            out[event_id] = [_thumbnail(frame, time_s, flagged_box(scored, int(index)))
                             for index, time_s, frame in zip(batch.indices, batch.times, batch.frames)]
    return out


def _templates() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("vadagent.app", "templates"),
                              autoescape=jinja2.select_autoescape(["html", "jinja"]), undefined=jinja2.StrictUndefined)


def write_index_html(path: Path, rows: list, events: list | None = None) -> Path:
    """The batch index across videos, linking each finished report: the most anomalous first (the highest
    severity a model judged, then the highest peak score, so that a batch no model explained is ranked too);
    then `events` (`tools.index.IndexEvent`, the most severe first), each linking its place in its report."""
    ranked = sorted(rows, key=lambda r: (r.max_severity if r.max_severity is not None else -1,
                                         r.peak_score if r.peak_score is not None else float("-inf")), reverse=True)
    # each report lies in a folder of its own beside the index (a URL's, when the batch published there)
    entries = [r.__dict__ | {"link": f"{Path(r.report).parent.name}/report.html" if r.report else ""} for r in ranked]
    listed = [e.__dict__ | {"link": f"{Path(e.report).parent.name}/report.html#{e.id}"} for e in events or []]
    path.write_text(_templates().get_template("index.html.jinja").render(rows=entries, events=listed), encoding="utf-8")
    return path


def write_html(path: Path, report: VideoReport, scored: ScoreResult, *, sigma: float = 0.0,
               folder_fps: float = 25.0) -> Path:
    scores = scored.smoothed(sigma)
    buffer = io.BytesIO()
    spans = [(e.start_s, e.end_s, e.label) for e in report.events if e.verdict != "rejected"]
    plot_timeline(buffer, scores, report.video.fps, threshold=report.scorer.threshold,
                  candidates=report.scorer.candidates, events=spans, title=Path(report.video.path).name)
    thumbnails = _thumbnails(report, scored, folder_fps)
    html = _templates().get_template("report.html.jinja").render(
        report=report, name=Path(report.video.path).name, timeline=base64.b64encode(buffer.getvalue()).decode("ascii"),
        thumbnails=thumbnails, marked=any(t.marked for shown in thumbnails.values() for t in shown))
    path.write_text(html, encoding="utf-8")
    return path
