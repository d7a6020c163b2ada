"""The live page of `vadagent ui --live OUT`: what a running `vadagent watch -o OUT` is seeing.

Read-only over the watch's output folder, refreshed every two seconds: each camera's latest score
against its threshold and how its picture is read (rain, a camera covered or moved…; cameras.json),
the latest events (events.jsonl, newest first), the keyframes of the event picked, and chat about
that event (its report, reports/<id>/). The watch and the UI may run on different machines sharing
the folder: nothing here talks to the watch.
"""

# No `from __future__ import annotations` here: Gradio passes the clicked row to `pick` by reading its
# `evt: gr.SelectData` annotation, which must be the class itself, not a string naming a parameter.
import json
import time
from pathlib import Path

from vadagent.app.watch_events import status_said

CAMERA_COLUMNS = ["camera", "score", "threshold", "above", "stream time s", "frames", "interruptions", "damaged packets",
                  "state", "picture"]
LIVE_EVENT_COLUMNS = ["id", "camera", "start s", "end s", "status", "category", "severity", "what"]
STALE_S = 10.0  # cameras.json older than this: the watch is not running
PICKABLE = 1000  # an event clicked is looked up among this many latest (the table shows 20)


def read_cameras(folder: Path, now: float) -> tuple[list[list], str]:
    """Rows of the cameras table, and a one-line state of the watch."""
    try:
        status = json.loads((folder / "cameras.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [], f"No `vadagent watch -o {folder}` has written here yet."
    except (json.JSONDecodeError, UnicodeDecodeError):
        return [], "cameras.json is being rewritten; next refresh."
    age = now - float(status.get("updated_at", 0.0))
    rows = [[c["name"], c["score"], c["threshold"], c["score"] is not None and c["score"] >= c["threshold"],
             c["time_s"], c["frames"], c["interruptions"], c.get("damaged_packets", 0), "live" if c["alive"] else "ended",
             c.get("picture") or "as it comes"]
            for c in status.get("cameras", [])]
    state = f"{len(rows)} camera(s), updated {age:.0f} s ago" + (" — the watch has stopped" if age > STALE_S else "")
    return rows, state


def read_events(folder: Path, limit: int = 20) -> list[dict]:
    """The last `limit` event records, newest first (events.jsonl is appended one line per event)."""
    path = folder / "events.jsonl"
    if not path.is_file():
        return []
    records = []
    for line in reversed(tail_lines(path, limit)):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # a line being written
            continue
    return records


def tail_lines(path: Path, count: int, block: int = 1 << 16) -> list[str]:
    """The last `count` lines of a file, read from its end: a busy week's events.jsonl is over 100 MB, and
    the page reads it every two seconds."""
    with path.open("rb") as handle:
        end = handle.seek(0, 2)
        data, start = b"", end
        while start > 0 and data.count(b"\n") <= count:
            start = max(0, start - block)
            handle.seek(start)
            data = handle.read(end - start)
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[-count:] if start == 0 else lines[1:][-count:]  # the first may be cut in two


def event_rows(records: list[dict]) -> list[list]:
    rows = []
    for r in records:
        event = r.get("event") or {}
        status = status_said(r["status"], bool(r.get("below_threshold")))
        rows.append([r["id"], r["camera"], r["start_s"], r["end_s"], status, event.get("category", ""),
                     event.get("severity", ""), event.get("what") or r.get("reason", "")])
    return rows


def event_files(folder: Path, record: dict) -> tuple[list[str], str | None]:
    """An event's keyframes that still exist (retention may have removed them) and its report folder."""
    keyframes = [str(folder / k) for k in record.get("keyframes", []) if (folder / k).is_file()]
    report = record.get("report")
    return keyframes, (str(folder / report) if report and (folder / report / "report.json").is_file() else None)


def build_live(app, gr, folder: Path):
    """The live tab's components (inside the page's gr.Blocks); returns its refresh and outputs, for
    the page to run once on load."""
    report_dir, conversation = gr.State(None), gr.State(None)
    state = gr.Markdown("…", elem_id="live-state")
    cameras = gr.Dataframe(headers=CAMERA_COLUMNS, label="Cameras", interactive=False, elem_id="live-cameras")
    with gr.Row():
        with gr.Column(scale=3):
            events = gr.Dataframe(headers=LIVE_EVENT_COLUMNS, label="Latest events (click one for its keyframes and "
                                  "to chat about it)", interactive=False, elem_id="live-events")
            keyframes = gr.Gallery(label="Keyframes", columns=4, height=260, elem_id="live-keyframes")
        with gr.Column(scale=2):
            chatbot = gr.Chatbot(label="Ask about the event", elem_id="live-chat", height=420, render_markdown=False)
            question = gr.Textbox(placeholder="what is the person doing?  /events", label="Question",
                                  elem_id="live-question")
            ask = gr.Button("Ask", variant="primary", elem_id="live-ask")

    def refresh():
        rows, line = read_cameras(folder, time.time())
        return line, rows, event_rows(read_events(folder))

    def pick(rows, evt: gr.SelectData):
        # by the id shown in the row clicked: the table may have been refreshed with newer events since
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        values = rows.values.tolist() if hasattr(rows, "values") else rows
        event_id = values[row][0] if 0 <= row < len(values) else None
        record = next((r for r in read_events(folder, limit=PICKABLE) if r.get("id") == event_id), None)
        if record is None:
            raise gr.Error("That event has scrolled away; pick it again.")
        frames, report = event_files(folder, record)
        if report is None:
            gr.Warning("No report for this event (retention removed it, or it was never explained).")
        return frames, report, [], None

    timer = gr.Timer(2.0)
    timer.tick(refresh, None, [state, cameras, events])
    events.select(pick, events, [keyframes, report_dir, chatbot, conversation])
    for trigger in (ask.click, question.submit):
        trigger(app.ask, [question, chatbot, report_dir, conversation], [chatbot, question, conversation],
                trigger_mode="once")
    return refresh, [state, cameras, events]
