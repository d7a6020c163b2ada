"""`vadagent chat VIDEO_OR_REPORT_OR_BATCH`: questions in, answers citing times and event ids out.

Interactive on a terminal (steps stream as they run; slash commands); with standard input
redirected, every line is a question and every answer one block on standard output, for scripts.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from vadagent.agents.chat.batch import BatchContext, is_batch
from vadagent.agents.chat.session import ChatSession, Reply, commands, load_report
from vadagent.agents.chat.tools import TOOLS, VideoContext
from vadagent.agents.explain.run import left_in_progress
from vadagent.app.job import ClientLoad, start_vlm
from vadagent.app.stopping import end_stopped, hold_further_stops, read_line, run_stoppable
from vadagent.config import Settings
from vadagent.errors import UsageError
from vadagent.tools.video import frame_files


def _is_report(target: Path) -> bool:
    return target.suffix == ".json" or (target.is_dir() and (target / "report.json").is_file())


def _check_target(target: Path) -> None:
    if not target.exists():
        raise UsageError(f"{target}: no such video, report or batch")
    if target.is_dir() and not _is_report(target) and not is_batch(target) and not frame_files(target):
        raise UsageError(f"{target}: neither a report folder (no report.json in it), a batch's folder (no index.json "
                         "or report folders in it) nor a folder of frame images; give a report folder, a batch's folder, "
                         "a report.json or a video")


def _report_path(settings: Settings, target: Path, output: Path | None, client_load: ClientLoad, normal: list[str],
                 scorer: Path | None, fps: float | None, console: Console) -> Path:
    """The report to chat about; a video is explained first (a folder of frames at `fps`, else its scorer's footage's
    rate or the settings': `folder_rate`)."""
    if _is_report(target):
        return target
    from vadagent.app.explaining import explain_command
    from vadagent.app.scoring import folder_rate
    from vadagent.tools.scorer import Scorer

    fps = folder_rate(settings, fps, Scorer.load(scorer) if scorer is not None else None, [str(target)], console)
    out = output or Path("runs") / "chat" / target.stem
    if _reports_on(out / "report.json", target, fps or settings.video.folder_fps):
        console.print(f"using the existing report in {out}", highlight=False)
        return out
    explain_command(settings, str(target), out, vlm=None, scorer_dir=scorer, normal=normal, taxonomy=None,
                    rules_file=None, fps=fps, console=console, client_load=client_load)
    return out


def _reports_on(report_file: Path, video: Path, folder_fps: float) -> bool:
    """Whether a report left in the chat's folder is of this video as it is now: another video of the
    same name (the folder is named after it), this one changed since, a folder of frames read at another
    rate, or a report whose explaining was stopped half-way (its detection-only stand-in), is explained again."""
    if not report_file.is_file():
        return False
    try:
        report, _ = load_report(report_file)
    except UsageError:  # not a report any more: explained again, over it
        return False
    return (Path(report.video.path).resolve() == video.resolve()
            and report_file.stat().st_mtime >= video.stat().st_mtime and not left_in_progress(report)
            and (report.video.kind != "frames" or abs(report.video.fps - folder_fps) < 1e-6))


def _transcript_path(name: str, session: ChatSession) -> Path:
    """Where /save may write: a .md or .txt file in an existing folder, never one of the chat's inputs."""
    path = Path(name).expanduser()
    if path.is_dir():
        raise UsageError(f"/save {name}: that is a folder; give a file name such as {path / 'chat.md'}")
    if not path.parent.is_dir():
        raise UsageError(f"/save {name}: the folder {path.parent} does not exist")
    if path.suffix.lower() not in (".md", ".txt"):
        raise UsageError(f"/save {name}: a transcript is saved as .md or .txt")
    if path.exists() and path.resolve().parent in session.context.kept_folders():
        raise UsageError(f"/save {name}: will not overwrite a file beside the report or the video; choose a new name")
    return path


def _format(reply: Reply) -> str:
    return reply.text + (f" [{', '.join(reply.cites)}]" if reply.cites else "")


def chat_command(settings: Settings, target: Path, *, vlm: str | None, conversation: str | None, memory: Path | None,
                 output: Path | None, normal: list[str], scorer: Path | None, out: Console, console: Console,
                 fps: float | None = None) -> int:
    _check_target(target)  # before the model loads (minutes, for a real one)
    # a batch's lists and a report are read before it too, so that a bad one fails at once
    batch = BatchContext(target, None) if is_batch(target) else None
    given = _is_report(target) and load_report(target)
    client_load = start_vlm(settings, vlm, console,
                            without=f"answering from the reports only ({commands(batch.tools if batch else TOOLS)})")
    if batch is not None:
        batch.client = client_load.result()
        scope, remembered = batch, target / "chat.sqlite"
    else:
        report, report_dir = given or load_report(_report_path(settings, target, output, client_load, normal, scorer,
                                                               fps, console))
        scope, remembered = VideoContext(report, report_dir, client_load.result()), report_dir / "chat.sqlite"
    session = ChatSession(scope, memory=memory or remembered, conversation=conversation)
    interactive = sys.stdin.isatty()
    if session.context.notice:
        console.print(session.context.notice, highlight=False, soft_wrap=True)
    console.print(f"conversation {session.conversation} (resume: --conversation {session.conversation})", highlight=False)
    code, stopped = run_stoppable(_chat(session, interactive, out, console))
    if stopped:
        hold_further_stops()
        console.print(f"\nstopped; the conversation is kept (resume: --conversation {session.conversation})",
                      highlight=False)
        end_stopped()
    return code


async def _chat(session: ChatSession, interactive: bool, out: Console, console: Console) -> int:
    try:
        return await _loop(session, interactive, out, console)
    finally:
        if session.context.client is not None:  # its connection pool belongs to this loop
            await session.context.client.aclose()


async def _loop(session: ChatSession, interactive: bool, out: Console, console: Console) -> int:
    await session.check_memory()
    if interactive:
        about = "the batch's videos" if isinstance(session.context, BatchContext) else "the video"
        console.print(f"Ask about {about}. {commands(session.context.tools)}", highlight=False)
    while True:
        try:
            line = await read_line("you> " if interactive else "")
        except EOFError:
            return 0
        line = line.strip()
        if not line:
            continue
        if line in ("/quit", "/exit"):
            return 0
        try:
            if line.startswith("/save"):
                path = _transcript_path(line[5:].strip() or f"chat-{session.conversation}.md", session)
                path.write_text(await session.transcript(markdown=path.suffix.lower() == ".md"), encoding="utf-8")
                console.print(f"saved → {path}", highlight=False)
                continue
            shown = ""  # streamed answer text already on screen
            async for kind, value in session.stream(line):
                if kind == "tool":
                    console.print(f"  [dim]· {escape(str(value))}[/dim]", highlight=False)
                elif kind == "delta" and interactive:  # scripts get the validated answer only
                    out.print(escape(value), end="", highlight=False, soft_wrap=True)
                    shown += value
                elif kind == "restart" and interactive and shown:
                    out.print("\n[dim](the answer did not validate; asking again)[/dim]", highlight=False)
                    shown = ""
                elif kind == "reply":
                    text = _format(value)
                    if shown and text.startswith(shown):
                        text = text[len(shown):]
                    elif shown:
                        out.print()
                    out.print(escape(text), highlight=False, soft_wrap=True)
        except (UsageError, OSError) as error:  # a mistyped command or an unwritable file: say so, go on
            console.print(f"[red]{escape(str(error))}[/red]", highlight=False)
