"""`report.html`: a self-contained page (timeline, events, keyframe thumbnails) readable without the CLI."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import cv2
import jinja2
import numpy as np

from vadagent.tools.scorer.plot import plot_timeline
from vadagent.tools.video import open_video
from vadagent.types import VideoReport

THUMB_HEIGHT = 110


def _thumbnails(report: VideoReport, folder_fps: float) -> dict[str, list[tuple[float, str]]]:
    wanted = {e.id: e.evidence_frames[:6] for e in report.events if e.evidence_frames}
    if not report.explained:  # detection only: show what the judge would have seen
        wanted |= {f"c{c.candidate + 1}": c.keyframes_s[:8] for c in report.contexts if c.keyframes_s}
    if not wanted:
        return {}
    out: dict[str, list[tuple[float, str]]] = {}
    with open_video(report.video.path, folder_fps=folder_fps) as video:
        for event_id, times in wanted.items():
            batch = video.read_at(times)
            images = []
            for time_s, frame in zip(batch.times, batch.frames):
                scale = THUMB_HEIGHT / frame.shape[0]
                small = cv2.resize(frame, (max(int(frame.shape[1] * scale), 1), THUMB_HEIGHT), interpolation=cv2.INTER_AREA)
                ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
                images.append((float(time_s), base64.b64encode(jpeg.tobytes()).decode("ascii")))
            out[event_id] = images
    return out


def _templates() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("vadagent.app", "templates"),
                              autoescape=jinja2.select_autoescape(["html", "jinja"]), undefined=jinja2.StrictUndefined)


def write_index_html(path: Path, rows: list) -> Path:
    """The batch index across videos, linking each finished report."""
    # each report lies in a folder of its own beside the index (a URL's, when the batch published there)
    entries = [r.__dict__ | {"link": f"{Path(r.report).parent.name}/report.html" if r.report else ""} for r in rows]
    path.write_text(_templates().get_template("index.html.jinja").render(rows=entries), encoding="utf-8")
    return path


def write_html(path: Path, report: VideoReport, scores: np.ndarray, *, folder_fps: float = 25.0) -> Path:
    buffer = io.BytesIO()
    spans = [(e.start_s, e.end_s, e.label) for e in report.events if e.verdict != "rejected"]
    plot_timeline(buffer, scores, report.video.fps, threshold=report.scorer.threshold,
                  candidates=report.scorer.candidates, events=spans, title=Path(report.video.path).name)
    html = _templates().get_template("report.html.jinja").render(
        report=report, name=Path(report.video.path).name, timeline=base64.b64encode(buffer.getvalue()).decode("ascii"),
        thumbnails=_thumbnails(report, folder_fps))
    path.write_text(html, encoding="utf-8")
    return path
