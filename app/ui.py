"""`vadagent ui`: the web UI (Gradio, as Hawk, Holmes-VAU and AnomalyGPT demo theirs).

Pick a report (from a batch's index or a folder of reports), open the bundled sample clip, or upload
a video (size-limited, type-checked, then explained); see the player, the score timeline and the
events; click an event or a moment to seek the player; chat beside it. A batch's events across its videos
are listed below, the most severe first: a click opens that event's report at it. Binds to 127.0.0.1 unless told otherwise.
"""


import contextlib
import functools
import hashlib
import html
import logging
import socket
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from vadagent.agents.chat.batch import BatchContext, is_batch
from vadagent.agents.chat.session import ChatSession, literal, load_report
from vadagent.agents.chat.tools import VideoContext, video_gone
from vadagent.agents.explain.run import left_in_progress
from vadagent.app.job import ClientLoad, start_vlm
from vadagent.app.ui_live import build_live
from vadagent.config import Settings
from vadagent.errors import MissingExtraError, UsageError, VadagentError, VideoError
from vadagent.samples import sample_clip
from vadagent.tools.index import FINISHED, read_batch_events, read_batch_rows, report_folder
from vadagent.tools.scorer.scorer import Progress
from vadagent.tools.video import VIDEO_SUFFIXES, open_video
from vadagent.tools.video.frame_folder import DEFAULT_FOLDER_FPS
from vadagent.tools.video.preview import playable_copy
from vadagent.types import Region

log = logging.getLogger(__name__)

EVENT_COLUMNS = ["id", "start s", "end s", "category", "label", "severity", "verdict", "where"]
MOMENT_COLUMNS = ["start s", "end s", "peak score", "where", "picked", "status", "why not explained"]
BATCH_EVENT_COLUMNS = ["severity", "label", "category", "video", "start s", "end s", "verdict", "event", "report"]
SEEK_JS = "(t) => { const v = document.querySelector('#player video'); if (v && t !== null) { v.currentTime = t; } return t; }"
# the player seeked once the video a click opened has loaded: media events do not bubble, so the document listens in
# their capture phase; where it loaded before the listener (or was the video already shown), the player is seeked anyway
SEEK_OPENED_JS = """(t) => {
  if (t === null || t === undefined) return t;
  const loaded = (e) => { if (e.target.closest && e.target.closest('#player')) { e.target.currentTime = t; } };
  document.addEventListener('loadedmetadata', loaded, true);
  setTimeout(() => { const v = document.querySelector('#player video'); if (v && v.readyState >= 1) { v.currentTime = t; } },
             1500);
  setTimeout(() => document.removeEventListener('loadedmetadata', loaded, true), 15000);
  return t;
}"""


@dataclass
class UIOptions:
    reports: Path | None
    vlm: str | None
    host: str = "127.0.0.1"
    port: int = 7860
    max_upload_mb: int = 200
    workdir: Path = Path("runs/ui")
    live: Path | None = None  # a `vadagent watch` output folder: the live page


def batch_event_rows(folder: Path | None) -> list[list]:
    """A batch's events across its videos (its events.jsonl, the most severe first) as the table's rows; none for a
    folder that is not a batch's, or a batch from before events were listed."""
    events = read_batch_events(folder) if folder is not None else []
    return [[e.severity, e.label, e.category, Path(e.source).name, round(e.start_s, 1), round(e.end_s, 1), e.verdict, e.id,
             Path(e.report).parent.name] for e in events]


def find_reports(folder: Path | None) -> dict[str, str]:
    """label → report folder: a batch's index.json (finished rows), else any subfolder holding report.json, else the
    folder itself where it is a report's."""
    if folder is None or not folder.is_dir():
        return {}
    if (folder / "report.json").is_file():
        return {folder.name: str(folder)}
    rows = read_batch_rows(folder)
    if rows is not None:
        done = [r for r in rows if r.status in FINISHED and r.report]
        names = Counter(Path(r.source).name for r in done)
        found = {}
        for r in done:
            name, report_dir = Path(r.source).name, report_folder(folder, r.report)
            # cam1/0101.mp4 and cam2/0101.mp4 are told apart by their report folders, which never collide
            found[f"{name if names[name] == 1 else report_dir.name} ({r.events} events)"] = str(report_dir)
        return found
    return {p.parent.name: str(p.parent) for p in sorted(folder.glob("*/report.json"))}


def as_text(text: str) -> str:
    """Chat text for a Chatbot that renders no Markdown: what a model says can quote a video's signs, so
    none of it may become a tag or an image that the browser fetches (the page shows it as typed)."""
    return html.escape(text).replace("\n", "<br>")


def check_upload(path: Path, max_mb: int) -> None:
    """Type and size checks before anything decodes an uploaded file."""
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise UsageError(f"{path.name}: not a video file type ({', '.join(sorted(VIDEO_SUFFIXES))})")
    if path.stat().st_size > max_mb * 1024 * 1024:
        raise UsageError(f"{path.name}: larger than the {max_mb} MB upload limit")
    with open_video(str(path)) as video:  # raises VideoError for text renamed .mp4, truncated files, …
        if video.info.frame_count < 2:
            raise UsageError(f"{path.name}: fewer than 2 frames")


def content_id(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()[:16]


def check_port(host: str, port: int) -> None:
    """A busy port is one line, before the model loads, not a traceback from deep in the web server."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise UsageError(f"cannot listen on {host}:{port} ({error.strerror}); pass another --port") from None


class App:
    def __init__(self, settings: Settings, options: UIOptions, client_load: ClientLoad) -> None:
        self.settings, self.options, self.client_load = settings, options, client_load  # served while a model loads

    def explain(self, video: Path, progress: Progress | None = None) -> str:
        """Explain a video into the work folder (once), fitting on its opening, taken as normal."""
        from vadagent.app.explaining import explain_command

        out = self.options.workdir / f"{video.stem}-{content_id(video)}"  # never another clip's, whatever its name
        if not (out / "report.json").is_file() or left_in_progress(load_report(out)[0]):
            explain_command(self.settings, str(video), out, vlm=None, scorer_dir=None, normal=[], taxonomy=None,
                            rules_file=None, fps=None, console=Console(stderr=True), client_load=self.client_load,
                            progress=progress)
        return str(out)

    @staticmethod
    def view(report_dir: str, progress: Progress | None = None) -> tuple:
        report, folder = load_report(Path(report_dir))
        rows = [[e.id, round(e.start_s, 1), round(e.end_s, 1), e.category, e.label, int(e.severity), e.verdict.value,
                 _where(e.region)] for e in report.events]
        timeline = folder / "timeline.png"
        moments = unexplained_moments(report)
        # a video's name is shown as written (it may hold Markdown that fetches an image)
        status = (f"**{literal(Path(report.video.path).name)}** · {report.video.duration_s:.1f} s · "
                  f"{len(report.scorer.candidates)} candidate(s) · {len(report.events)} event(s)"
                  + (f" · {len(moments)} detected, not explained" if moments else ""))
        timeline_image = str(timeline) if timeline.is_file() else None
        player = _player_video(Path(report.video.path), folder, progress, fps=report.video.fps)
        if player is None and video_gone(report):
            status += f" · its video, {literal(report.video.path)}, is not there any more (moved or deleted?)"
        return player, timeline_image, rows, moments, status

    async def ask(self, question: str, history: list[dict], report_dir: str | None, conversation: str | None,
                  whole_batch: bool = False):
        """Streams: the question at once, tool calls as they run, the answer as it is generated. About the report open,
        or with `whole_batch` about the batch's videos (`--reports`, a batch's folder)."""
        import gradio as gr

        batch = self.options.reports if whole_batch else None
        if not report_dir and batch is None:
            raise gr.Error("Open a video or a report first.")
        if not question.strip():
            yield history, "", conversation
            return
        scope = BatchContext(batch, None) if batch is not None else VideoContext(*load_report(Path(report_dir)), None)
        history = history + [{"role": "user", "content": as_text(question)}, {"role": "assistant", "content": "…"}]
        yield history, "", conversation  # the question at once, before waiting for a model still loading
        scope.client = await self.client_load.aresult()
        memory = (batch if batch is not None else scope.report_dir) / "chat.sqlite"
        session = ChatSession(scope, memory=memory, conversation=conversation)
        tools: list[str] = []
        answer = ""
        yield history, "", session.conversation
        try:
            async for kind, value in session.stream(question.strip()):
                if kind == "tool":
                    tools.append(str(value))
                elif kind == "delta":
                    answer += value
                elif kind == "restart":
                    answer = ""
                elif kind == "reply":
                    cites = f" [{', '.join(value.cites)}]" if value.cites else ""
                    answer = value.text + cites
                steps = f"\n\n(tools: {', '.join(tools)})" if tools else ""
                history[-1] = {"role": "assistant", "content": as_text((answer or "…") + steps)}
                yield history, "", session.conversation
        except UsageError as error:
            raise gr.Error(str(error)) from None


def unexplained_moments(report) -> list[list]:
    """Candidates the VLM did not explain (none reachable, or its calls failed): as report.html lists them."""
    status = {c.candidate: c for c in report.contexts}
    rows = []
    for number, candidate in enumerate(report.scorer.candidates):
        context = status.get(number)
        if context is not None and context.status == "explained":
            continue
        rows.append([round(candidate.start_s, 1), round(candidate.end_s, 1), round(candidate.peak_score, 2),
                     _where(candidate.region), "below threshold (coverage)" if candidate.below_threshold else "above threshold",
                     context.status if context else "detected",
                     (context.reason if context and context.reason else "no VLM was asked")])
    return rows


def _where(region: Region | None) -> str:
    """The place in words ("the whole picture", not the place's key "whole"), then what was measured there."""
    return "" if region is None else region.part + (f": {region.why}" if region.why else "")


def _player_video(video: Path, report_folder: Path, progress: Progress | None = None, *,
                  fps: float = DEFAULT_FOLDER_FPS) -> str | None:
    """What the player shows: the video, or its browser-playable copy (MPEG-TS, AVI, MKV, H.265 … do not
    play in a browser; a folder of frames, at `fps`, is no file at all); None where the video is gone. A
    copy that cannot be written costs the player, not the report."""
    if not video.exists():
        return None
    try:
        return str(playable_copy(video, report_folder, fps=fps, progress=progress))
    except (VideoError, OSError) as error:
        log.warning("%s: the player may not play it: %s", video, error)
        return str(video) if video.is_file() else None


def build_ui(app: App):
    try:
        import gradio as gr
    except ImportError:
        raise MissingExtraError("the web UI", "ui") from None

    reports = find_reports(app.options.reports)

    def guarded(fn):
        @functools.wraps(fn)  # gradio reads the signature: a `progress=gr.Progress()` gets the page's bar
        def run(*args):
            try:
                return fn(*args)
            except VadagentError as error:
                raise gr.Error(str(error)) from None
        return run

    def shown(bar) -> Progress:
        """Gradio's progress bar as the `(stage, done, total)` callback fitting, scoring and copying call."""
        return lambda stage, done, total: bar((done, max(total, done)), desc=stage)

    def open_folder(report_dir: str, progress: Progress | None = None):
        video, timeline, rows, moments, status = app.view(report_dir, progress)
        return video, timeline, rows, moments, status, report_dir, [], None

    with gr.Blocks(title="vadagent") as demo:
        gr.Markdown("# vadagent — anomalies, explained")
        live = app.options.live
        if live is not None:
            with gr.Tab("Live", elem_id="tab-live"):
                refresh, live_outputs = build_live(app, gr, live)
            demo.load(refresh, None, live_outputs)
        with gr.Tab("Reports", elem_id="tab-reports") if live is not None else contextlib.nullcontext():
            report_dir = gr.State(None)
            conversation = gr.State(None)
            with gr.Row():
                with gr.Column(scale=3):
                    with gr.Row():
                        picker = gr.Dropdown(choices=list(reports), value=next(iter(reports), None), label="Reports",
                                             interactive=bool(reports), scale=3)
                        sample = gr.Button("Open the sample clip", elem_id="open-sample", scale=1)
                    upload = gr.File(label=f"Upload a video (≤ {app.options.max_upload_mb} MB)", file_count="single",
                                     file_types=sorted(VIDEO_SUFFIXES), elem_id="upload")
                    status = gr.Markdown("Open a report, the sample clip, or upload a video.", elem_id="status")
                    player = gr.Video(label="Video", interactive=False, elem_id="player")
                    timeline = gr.Image(label="Score timeline", interactive=False, elem_id="timeline", type="filepath")
                    events = gr.Dataframe(headers=EVENT_COLUMNS, label="Events (click one to seek the player)",
                                          interactive=False, elem_id="events")
                    moments = gr.Dataframe(headers=MOMENT_COLUMNS, label="Detected moments, not explained (click one to "
                                           "seek the player)",
                                           interactive=False, elem_id="moments")
                    seek = gr.Number(visible=False)
                with gr.Column(scale=2):
                    chatbot = gr.Chatbot(label="Ask about the video", elem_id="chat", height=520, render_markdown=False)
                    question = gr.Textbox(placeholder="what happened at 17 s?  /events  /look 12-15 what is he holding?",
                                          label="Question", elem_id="question")
                    ask = gr.Button("Ask", variant="primary", elem_id="ask")
                    whole_batch = gr.Checkbox(label="Ask about the whole batch (which videos had …?)", value=False,
                                              visible=app.options.reports is not None and is_batch(app.options.reports),
                                              elem_id="whole-batch")
            rows = read_batch_rows(app.options.reports) if app.options.reports is not None else None
            if rows is not None:
                gr.Dataframe(value=[[Path(r.source).name, r.status, r.events, r.max_severity, r.peak_score, r.error or ""]
                                    for r in rows],
                             headers=["video", "status", "events", "max severity", "peak score", "note"],
                             label="Batch index", interactive=False)
            batch_events = batch_event_rows(app.options.reports)
            if batch_events:
                batch_table = gr.Dataframe(value=batch_events, headers=BATCH_EVENT_COLUMNS, interactive=False,
                                           label="Events across the batch, the most severe first (click one to open its "
                                                 "report there)", elem_id="batch-events")

            outputs = [player, timeline, events, moments, status, report_dir, chatbot, conversation]
            page_bar = gr.Progress()  # a marker in a handler's signature: gradio gives each event a bar of its own

            def on_pick(label, bar=page_bar):
                return open_folder(reports[label], shown(bar))

            def on_first(bar=page_bar):
                return open_folder(next(iter(reports.values())), shown(bar))

            def on_sample(bar=page_bar):
                return open_folder(app.explain(sample_clip(), shown(bar)), shown(bar))

            picker.input(guarded(on_pick), picker, outputs)  # the user's pick: a batch event's click sets it too
            if reports:  # the first report opens with the page: no extra click
                demo.load(guarded(on_first), None, outputs)
            sample.click(guarded(on_sample), None, outputs)

            def on_upload(file, bar=page_bar):
                if file is None:
                    raise gr.Error("No file received.")
                path = Path(file if isinstance(file, str) else file.name)
                check_upload(path, app.options.max_upload_mb)
                return open_folder(app.explain(path, shown(bar)), shown(bar))

            upload.upload(guarded(on_upload), upload, outputs)

            def seeking(columns: list[str]):
                def on_select(rows, evt: gr.SelectData) -> float:  # gradio passes the click by this annotation
                    return row_start(rows, evt.index, columns)
                return on_select

            if batch_events:
                labels = {folder: label for label, folder in reports.items()}

                def on_batch_event(rows, evt: gr.SelectData, bar=page_bar):
                    folder, start, what = batch_event_report(rows, evt.index, app.options.reports)
                    shown_report = open_folder(folder, shown(bar))
                    return (*shown_report[:4], f"{shown_report[4]} · {what}", *shown_report[5:], labels.get(folder),
                            start)

                batch_table.select(guarded(on_batch_event), batch_table, [*outputs, picker, seek]).then(
                    None, seek, seek, js=SEEK_OPENED_JS)
            for table, columns in ((events, EVENT_COLUMNS), (moments, MOMENT_COLUMNS)):
                table.select(seeking(columns), table, seek).then(None, seek, seek, js=SEEK_JS)
            for trigger in (ask.click, question.submit):  # "once": no second question runs on a stale history
                trigger(app.ask, [question, chatbot, report_dir, conversation, whole_batch], [chatbot, question, conversation],
                        trigger_mode="once")
    return demo


def clicked_row(rows, index) -> list:
    """A table's row clicked (`index`: gradio's (row, column), whichever cell; `rows` its value, a DataFrame or lists)."""
    row = index[0] if isinstance(index, (list, tuple)) else index
    return (rows.values.tolist() if hasattr(rows, "values") else rows)[row]


def row_start(rows, index, columns: list[str]) -> float:
    """The start time of a table's row clicked, to seek to."""
    return float(clicked_row(rows, index)[columns.index("start s")])


def batch_event_report(rows, index, batch: Path) -> tuple[str, float, str]:
    """The report folder of a batch event's row clicked (a folder of `batch`), the event's start, and what it is."""
    row = dict(zip(BATCH_EVENT_COLUMNS, clicked_row(rows, index), strict=True))
    folder = batch / str(row["report"])
    if folder.parent != batch or not (folder / "report.json").is_file():  # a name, never a path out of the batch
        raise UsageError(f"{row['report']}: no such report in {batch}")
    start, end = float(row["start s"]), float(row["end s"])
    return str(folder), start, f"{row['event']}, {row['label']}, at {start:.1f}–{end:.1f} s"


def launch(settings: Settings, options: UIOptions, *, console: Console) -> int:
    check_port(options.host, options.port)
    if options.live is not None and not options.live.is_dir():
        raise UsageError(f"{options.live}: no such folder (the -o folder of 'vadagent watch')")
    reports = find_reports(options.reports)  # a corrupt index is one line now, not a broken page later
    client_load = start_vlm(settings, options.vlm, console,
                            without="reports open and slash commands work, questions in words need a VLM")
    options.workdir.mkdir(parents=True, exist_ok=True)
    demo = build_ui(App(settings, options, client_load))
    if options.host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[yellow]binding to {options.host}: anyone who can reach this address can use the UI[/yellow]")
    allowed = [str(options.workdir.resolve()), str(sample_clip().parent)]
    if options.live is not None:
        allowed.append(str(options.live.resolve()))
    if options.reports:
        allowed.append(str(options.reports.resolve()))
        for folder in reports.values():  # the batch's videos live beside its sources
            allowed.append(str(Path(load_report(Path(folder))[0].video.path).resolve().parent))
    demo.queue(default_concurrency_limit=2).launch(
        server_name=options.host, server_port=options.port, max_file_size=f"{options.max_upload_mb}mb",
        allowed_paths=allowed, show_error=True, quiet=True, prevent_thread_lock=False)
    return 0
