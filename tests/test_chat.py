"""The chat agent: a scripted multi-turn conversation over a real report uses every tool (snapshot),
resumes by id, refuses times outside the video, and works from standard input."""

import json
import os
from pathlib import Path

import pytest
from inprocess import invoke

from vadagent.agents.chat.session import ChatSession, load_report, parse_command
from vadagent.agents.chat.steps import mentioned_times
from vadagent.agents.chat.tools import VideoContext
from vadagent.errors import UsageError
from vadagent.samples import sample_clip
from vadagent.tools.vlm import make_client, run_sync

SNAPSHOT = Path(__file__).parent / "snapshots" / "chat_conversation.txt"


def judged(**changes) -> str:
    base = {"category": "motion", "label": "fast object", "what": "a small object crosses the path fast",
            "cause": "it rides along the footpath among walkers", "effect": "walkers step aside", "severity": 2,
            "severity_rationale": "nobody is hurt", "confidence": 0.8, "evidence_frames": [2, 3], "matched_rules": ["a1"]}
    return json.dumps(base | changes)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory, sample_scorer) -> Path:
    """The sample clip explained with a replay judge: real scores, candidates, relations, events."""
    folder = tmp_path_factory.mktemp("chat")
    script = folder / "judge.jsonl"
    script.write_text("".join(json.dumps({"text": judged()}) + "\n" for _ in range(8)))
    result = invoke("explain", sample_clip(), "--scorer", sample_scorer, "--vlm", f"replay:{script}", "-o", folder / "out")
    assert result.returncode == 0, result.stderr
    return folder / "out"


def step(action: str, **fields) -> dict:
    return {"text": json.dumps({"action": action} | fields)}


CONVERSATION = [
    ("/events", []),
    ("what happened in e1?", [step("event", event_id="e1"),
                              step("answer", answer="e1 is a small object crossing the path fast, 17-19 s.",
                                   cites=["e1", "17.5 s"])]),
    ("how does the whole video look?", [step("timeline"),
                                        step("answer", answer="Scores stay low until a peak at 17.5 s.", cites=["17.5 s"])]),
    ("what is moving between 17 and 19 s?", [
        step("relations", t0=17, t1=19),
        step("look", t0=17, t1=19, question="what moves fast?"),
        {"text": json.dumps({"answer": "a small bright object moving right", "frames": [1, 2]})},
        step("answer", answer="A small object moves right much faster than the walkers.", cites=["e1", "18 s", "400 s"])]),
    ("which rules were used?", [step("rules"), step("answer", answer="The generic rules; a1 matched.", cites=["e1"])]),
    ("what happened at 50 s?", []),  # answered by the guard, no model call
]


def transcript_shape(messages: list[dict]) -> str:
    """The conversation without tool outputs (those hold measured numbers): turns, calls, answers."""
    lines = []
    for m in messages:
        if m["role"] == "user":
            lines.append(f"user: {m['content']}")
        elif m["role"] == "tool":
            lines.append(f"  tool: {m['call']}")
        else:
            lines.append(f"assistant: {m['content'][:90]} {m.get('cites', [])}")
    return "\n".join(lines) + "\n"


def test_scripted_conversation_uses_every_tool_and_resumes(tmp_path, report_dir):
    script = tmp_path / "chat.jsonl"
    script.write_text("".join(json.dumps(e) + "\n" for _, entries in CONVERSATION for e in entries))
    later = tmp_path / "later.jsonl"
    later.write_text(json.dumps(step("answer", answer="As said before, e1.", cites=["e1"])) + "\n")
    report, folder = load_report(report_dir)
    memory = tmp_path / "chat.sqlite"
    session = ChatSession(VideoContext(report, folder, make_client(f"replay:{script}")), memory=memory)
    replies = [run_sync(session.ask(question)) for question, _ in CONVERSATION]
    assert replies[0].tools == ["events()"] and "e1:" in replies[0].text
    assert replies[3].tools == ["relations(17, 19)", "look(17, 19, 'what moves fast?')"]
    assert replies[3].cites == ["e1", "18 s"]  # 400 s is outside the video: dropped
    assert "outside it" in replies[5].text and replies[5].tools == []
    used = {call.split("(")[0] for reply in replies for call in reply.tools}
    assert used == {"events", "event", "timeline", "relations", "look", "rules"}
    history = run_sync(session.history())
    shape = transcript_shape(history)
    if os.environ.get("VADAGENT_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(shape)
    assert shape == SNAPSHOT.read_text(), "the conversation changed: rerun with VADAGENT_UPDATE_SNAPSHOTS=1 if meant"

    # a new session with the same id continues the same conversation (memory in SQLite)
    resumed = ChatSession(VideoContext(report, folder, make_client(f"replay:{later}")), memory=memory,
                          conversation=session.conversation)
    reply = run_sync(resumed.ask("and after that?"))
    assert reply.text == "As said before, e1."
    assert run_sync(resumed.history())[: len(history)] == history and len(run_sync(resumed.history())) == len(history) + 2
    other = ChatSession(VideoContext(report, folder, None), memory=memory)
    assert run_sync(other.history()) == []


def test_the_timeline_and_an_event_say_where_in_the_picture(report_dir):
    """ "Where was it?" can be answered from the report: each candidate's and event's region, in words and pixels."""
    report, folder = load_report(report_dir)
    context = VideoContext(report, folder, None)
    places = [c.region.where for c in report.scorer.candidates]
    assert places and all(place in context.timeline() for place in places)
    # and which the coverage floor took below the threshold, as the terminal says it
    report.scorer.candidates[0].below_threshold = True
    lines = [line for line in context.timeline().splitlines() if ", peak " in line]
    assert [("(below the threshold)" in line) for line in lines] == [c.below_threshold for c in report.scorer.candidates]
    event = report.events[0]
    x0, y0, x1, y1 = event.region.box
    assert f"Where: {event.region.part}, region ({x0},{y0})-({x1},{y1}) of the 320×240 frame" in \
        context.event(event.id)


def test_a_look_at_a_folder_of_frames_reads_them_at_its_report_s_frame_rate(tmp_path, report_dir):
    """A folder of frames has no clock of its own: explained with --fps 10, its report counts 10 frames a second,
    and so must every later look at it (until release 65 chat read it at the settings' 25, other frames)."""
    import cv2
    import numpy as np

    from vadagent.agents.chat.tools import VideoContext
    from vadagent.types import VideoInfo

    frames = tmp_path / "frames"
    frames.mkdir()
    for index in range(80):  # each frame's gray level tells which it is
        cv2.imwrite(str(frames / f"{index:03d}.png"), np.full((48, 64), 3 * index, np.uint8))
    report, _ = load_report(report_dir)
    report = report.model_copy(update={"video": VideoInfo(path=str(frames), kind="frames", fps=10.0, frame_count=80,
                                                          width=64, height=48, codec="png")})
    script = tmp_path / "look.jsonl"
    script.write_text(json.dumps({"text": json.dumps({"answer": "a gray picture", "frames": [0]})}) + "\n")
    client, asked = make_client(f"replay:{script}"), []
    answer = client.agenerate

    async def remembered(messages, *args, **kwargs):
        asked.append(messages)
        return await answer(messages, *args, **kwargs)

    client.agenerate = remembered
    said = run_sync(VideoContext(report, None, client).look(5.0, 6.0, "what is there?"))
    assert said.startswith("Looked at 5.0–6.0 s")
    shown = [part for part in asked[0][0].parts if hasattr(part, "pixels")]
    assert [round(float(part.pixels.mean()) / 3) for part in shown] == \
        pytest.approx([round(t * 10) for t in np.linspace(5.0, 6.0, len(shown))], abs=1)


def test_commands_and_times_are_parsed():
    assert parse_command("/look 12.0-15.5 what is the man holding?") == {
        "tool": "look", "t0": 12.0, "t1": 15.5, "question": "what is the man holding?"}
    assert parse_command("what?") is None
    with pytest.raises(UsageError, match="usage: /look"):
        parse_command("/look soon")
    with pytest.raises(UsageError, match="unknown command"):
        parse_command("/dance")
    assert mentioned_times("what happened at 5s, at 1:05 and 12.0-15.5?") == [5.0, 65.0, 12.0, 15.5]


def test_chat_from_standard_input(tmp_path, report_dir):
    script = tmp_path / "chat.jsonl"
    script.write_text(json.dumps(step("look", t0=4, t1=6, question="what is there?")) + "\n"
                      + json.dumps({"text": json.dumps({"answer": "two people walk on a path", "frames": [0]})}) + "\n"
                      + json.dumps(step("answer", answer="At 5 s two people walk along the path.", cites=["5 s"])) + "\n")
    result = invoke("chat", report_dir / "report.json", "--vlm", f"replay:{script}", "--memory", tmp_path / "m.sqlite",
                    input="what happened at 5s?\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "At 5 s two people walk along the path. [5 s]"
    assert "look(4, 6" in result.stderr and "conversation " in result.stderr


def test_chat_without_a_vlm_still_answers_commands_and_the_guard(tmp_path, report_dir):
    result = invoke("chat", report_dir, "--vlm", "hf:nobody/no-such-vlm", "--memory", tmp_path / "m.sqlite",
                    input=f"/save {report_dir / 'report.json'}\n/save {report_dir / 't.md'}\n"
                          f"/save {report_dir / 't.md'}\n/save {tmp_path}\n"
                          f"/save {tmp_path / 'missing' / 'x.md'}\n{'why? ' * 2000}\n"
                          f"/events\nwhat happened at 99 s?\nhello\n/save {tmp_path / 'chat.md'}\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("- e1:") and any("outside it" in line for line in lines)
    assert "needs a VLM" in result.stdout
    # /save never overwrites the report or what lies beside it, and bad targets are one line each, not a crash
    errors = " ".join(result.stderr.split())
    assert "saved as .md or .txt" in errors and "will not overwrite" in errors and "is a folder" in errors
    assert "does not exist" in errors and "ask in at most 4,000" in errors and "Traceback" not in result.stderr
    assert json.loads((report_dir / "report.json").read_text())["video"]
    assert "**you:** hello" in (tmp_path / "chat.md").read_text()


def test_chat_on_a_video_explains_it_first(tmp_path, synthetic_normal, synthetic_anomalous):
    import shutil

    out, clip = tmp_path / "explained", synthetic_anomalous[0]
    result = invoke("chat", clip, "-o", out, "--vlm", "hf:nobody/no-such-vlm", input="/timeline\n")
    assert result.returncode == 0, result.stderr
    assert (out / "report.json").is_file() and "fitted on the first 4 s of this video" in result.stderr.replace("\n", " ")
    assert result.stdout.startswith("anomalous.mp4: 16.0 s") and result.stderr.count("no VLM") == 1
    # the timeline carries the report's notes: how its scorer was fitted, here on the video's own opening
    assert "Notes:" in result.stdout and "first 4 s of this video" in result.stdout.replace("\n", " ")
    again = invoke("chat", clip, "-o", out, "--vlm", "hf:nobody/no-such-vlm", input="/events\n")
    assert again.returncode == 0 and "using the existing report" in again.stderr
    assert "candidate moment(s) were detected; see the timeline." in again.stdout  # the timeline says when
    # a report whose explaining was stopped half-way (its stand-in, written before the first VLM call) is redone
    from vadagent.agents.explain.run import IN_PROGRESS_NOTE

    stopped = json.loads((out / "report.json").read_text())
    (out / "report.json").write_text(json.dumps(stopped | {"notes": [*stopped["notes"], IN_PROGRESS_NOTE]}))
    redone = invoke("chat", clip, "-o", out, "--vlm", "hf:nobody/no-such-vlm", input="/timeline\n")
    assert redone.returncode == 0 and "using the existing report" not in redone.stderr
    assert IN_PROGRESS_NOTE not in json.loads((out / "report.json").read_text())["notes"]
    # another video of the same name is explained, not answered from the first one's report
    other = tmp_path / "elsewhere" / "anomalous.mp4"
    other.parent.mkdir()
    shutil.copy(synthetic_normal, other)
    result = invoke("chat", other, "-o", out, "--vlm", "hf:nobody/no-such-vlm", input="/timeline\n")
    assert result.returncode == 0, result.stderr
    assert "using the existing report" not in result.stderr and result.stdout.startswith("anomalous.mp4: 20.0 s")
    assert Path(load_report(out)[0].video.path).resolve() == other.resolve()
    # the conversations about the first video are kept aside, not continued about the second one
    assert "its conversations are kept in chat-anomalous.sqlite" in result.stderr.replace("\n", " ")
    assert (out / "chat-anomalous.sqlite").is_file() and (out / "chat.sqlite").is_file()
    again = invoke("chat", other, "-o", out, "--vlm", "hf:nobody/no-such-vlm", input="/timeline\n")
    assert "using the existing report" in again.stderr and "kept in" not in again.stderr


def test_chat_on_a_folder_of_frames_explains_it_at_the_rate_given(tmp_path, synthetic_anomalous):
    """A folder of frames is explained at --fps; a report of it left at another rate is not answered from."""
    import cv2

    from vadagent.tools.video import open_video

    frames, out = tmp_path / "frames", tmp_path / "explained"
    frames.mkdir()
    with open_video(synthetic_anomalous[0]) as video:
        for batch in video.scan(end_s=6.0):
            for index, gray in zip(batch.indices, batch.frames, strict=True):
                cv2.imwrite(str(frames / f"{index}.png"), gray)
    ask = ["chat", frames, "-o", out, "--vlm", "hf:nobody/no-such-vlm"]
    slow = invoke(*ask, "--fps", "12.5", input="/timeline\n")
    assert slow.returncode == 0, slow.stderr
    assert slow.stdout.startswith("frames: 12.0 s") and load_report(out)[0].video.fps == 12.5
    again = invoke(*ask, "--fps", "12.5", input="/timeline\n")
    assert again.returncode == 0 and "using the existing report" in again.stderr
    usual = invoke(*ask, input="/timeline\n")  # the settings' rate, 25: explained again
    assert usual.returncode == 0 and "using the existing report" not in usual.stderr
    assert usual.stdout.startswith("frames: 6.0 s")


def test_a_memory_file_that_is_not_sqlite_is_a_clear_error(tmp_path, report_dir):
    memory = tmp_path / "m.sqlite"
    memory.write_text("not a database, just text\n" * 100)
    result = invoke("chat", report_dir, "--vlm", "hf:nobody/no-such-vlm", "--memory", memory, input="/events\n")
    assert result.returncode == 2 and "not a chat memory file" in result.stderr and "Traceback" not in result.stderr


def test_the_answer_streams_out_of_the_growing_json():
    from vadagent.agents.chat.agent import PartialAnswer

    written: list[dict] = []
    partial = PartialAnswer(written.append)
    for text in ['{"action": "answer", "ans', '{"action": "answer", "answer": "At 5',
                 '{"action": "answer", "answer": "At 5 s \\"two\\"',
                 '{"action": "answer", "answer": "At 5 s \\"two\\" people\\u001b[2J", "cites": []}']:
        partial.update(text)
    assert "".join(w["answer"] for w in written) == 'At 5 s "two" people[2J'  # no escape reaches the terminal
    partial.update('{"action": "answer", "answer": "Retry')  # a validation retry starts over
    assert written[-2] == {"restart": True} and written[-1] == {"answer": "Retry"}


def test_one_registry_gives_the_schema_the_prompt_and_the_commands(report_dir):
    from vadagent.agents.chat.session import COMMANDS
    from vadagent.agents.chat.tools import TOOLS

    report, folder = load_report(report_dir)
    context = VideoContext(report, folder, None)
    actions = context.step_model(False).model_json_schema()["properties"]["action"]["enum"]
    assert actions == [*TOOLS, "answer"] and "video" not in context.step_model(False).model_fields
    prompt = context.prompt([], must_answer=False)
    for tool in TOOLS.values():
        assert f'"{tool.name}": {tool.description}' in prompt and tool.usage in COMMANDS
        assert parse_command(tool.usage.replace("ID", "e1").replace("T0-T1", "1-2").replace("QUESTION", "why?"))["tool"] \
            == tool.name


def test_a_markdown_transcript_shows_what_was_said_as_written():
    from markdown_it import MarkdownIt  # rich's own Markdown parser: CommonMark

    from vadagent.agents.chat.session import literal

    said = ('a sign reads ![x](http://127.0.0.1/i) <img src="http://127.0.0.1/j"> [docs](http://127.0.0.1/k) '
            '\\![y](http://127.0.0.1/l) `code` **bold** # not a heading & amp; e1: 15.1–21.1 s')
    shown = MarkdownIt().render(literal(said))
    assert "<img" not in shown and "<a " not in shown and "<code>" not in shown and "<strong>" not in shown
    assert MarkdownIt().render(said).count("<img") == 2  # what the escaping stops


def test_ctrl_c_at_the_prompt_ends_the_chat_at_once_keeping_the_conversation(tmp_path, report_dir):
    """Before, the line being read held the process until Enter: input() ran in a thread that the
    interpreter waits for."""
    import signal
    import subprocess
    import sys
    import time

    vadagent = str(Path(sys.executable).with_name("vadagent"))
    chat = subprocess.Popen([vadagent, "chat", str(report_dir), "--vlm", "hf:nobody/no-such-vlm", "--memory",
                             str(tmp_path / "m.sqlite")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        said = ""
        while "resume: --conversation" not in said:
            line = chat.stderr.readline()
            assert line, f"the chat ended before it asked: {said}"
            said += line
        time.sleep(1.0)  # at the prompt
        pressed = time.monotonic()
        chat.send_signal(signal.SIGINT)  # standard input stays open, as a terminal's does
        assert chat.wait(timeout=30) == 130 and time.monotonic() - pressed < 10
        rest = chat.stderr.read()
        assert "the conversation is kept" in rest and "Traceback" not in rest
    finally:
        chat.kill()


def test_a_report_finds_its_video_from_any_folder_and_says_when_it_is_gone(tmp_path, monkeypatch, sample_scorer):
    """A report keeps its video's absolute path: chat (and the web UI) opened from another folder than the one it
    was explained in read its frames (the relative path read from there was "no such file"). A video moved away
    since is said at the start and by the commands that read frames; the report's own figures still answer."""
    import shutil

    from vadagent.samples import sample_clip

    (tmp_path / "site").mkdir()
    shutil.copy(sample_clip(), tmp_path / "site" / "clip.mp4")
    monkeypatch.chdir(tmp_path)
    explained = invoke("explain", "site/clip.mp4", "--scorer", sample_scorer, "-o", "out",
                       "--vlm", "hf:nobody/no-such-vlm")
    assert explained.returncode == 3, explained.stderr
    assert load_report(tmp_path / "out")[0].video.path == str(tmp_path / "site" / "clip.mp4")
    monkeypatch.chdir(tmp_path / "site")
    here = invoke("chat", "../out", "--vlm", "hf:nobody/no-such-vlm", input="/relations 0-3\n")
    assert here.returncode == 0 and "not there" not in here.stdout + here.stderr, here.stderr
    (tmp_path / "site" / "clip.mp4").rename(tmp_path / "site" / "moved.mp4")
    gone = invoke("chat", "../out", "--vlm", "hf:nobody/no-such-vlm", input="/relations 0-3\n/events\n")
    assert gone.returncode == 0, gone.stderr
    said = "is not there any more (moved or deleted?)"
    assert said in gone.stderr.replace("\n", " ") and said in gone.stdout.replace("\n", " ")
    assert "e1" in gone.stdout or "candidate moment(s)" in gone.stdout  # the report still answers
