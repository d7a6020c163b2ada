"""Chat about a batch: `vadagent chat` on a `vadagent report` folder answers across its videos ("which had a
fight?") from the batch's index and events, then about one video through that video's report, with a replay client
(the agent's logic) and a tiny real VLM (the narrowed step schema decoded under its constraint)."""

import json
import shutil
from pathlib import Path

import pytest
from inprocess import invoke
from per_run import once_per_run

from vadagent.agents.chat.batch import BatchContext, is_batch
from vadagent.agents.chat.session import ChatSession, load_report, parse_command
from vadagent.app.batch import write_index
from vadagent.errors import UsageError
from vadagent.samples import sample_clip
from vadagent.tools.index import ReportIndex
from vadagent.tools.vlm import make_client, run_sync


def judged(**changes) -> str:
    base = {"category": "motion", "label": "fast object", "what": "a small object crosses the path fast",
            "cause": "it rides along the footpath among walkers", "effect": "walkers step aside", "severity": 2,
            "severity_rationale": "nobody is hurt", "confidence": 0.8, "evidence_frames": [2, 3], "matched_rules": []}
    return json.dumps(base | changes)


@pytest.fixture(scope="session")
def batch(tmp_path_factory, sample_scorer) -> Path:
    """A batch's folder as `vadagent report` leaves it: the sample explained twice (a calm judge for cam1, a severe one
    for cam2), each report in its folder, a third video that failed, and the index, events.jsonl and index.html
    written by the batch's own code. Made once per run; the tests only read it."""

    def make(work: Path) -> None:
        out = work / "out"
        index = ReportIndex(out / "index.sqlite")
        for name, severity in (("cam1", 1), ("cam2", 4)):
            script = work / f"{name}.jsonl"
            script.write_text("".join(json.dumps({"text": judged(severity=severity)}) + "\n" for _ in range(8)))
            video = work / name / "0101.mp4"
            video.parent.mkdir()
            shutil.copy(sample_clip(), video)
            result = invoke("explain", video, "--scorer", sample_scorer, "--vlm", f"replay:{script}", "-o", out / name)
            assert result.returncode == 0, result.stderr
            report, _ = load_report(out / name)
            index.start(str(video))
            index.finish(str(video), str(out / name / "report.json"), explained=True,
                         candidates=len(report.scorer.candidates), events=len(report.events),
                         confirmed=len(report.events), max_severity=severity)
            index.record_events(str(video), report.events)
        index.start(str(work / "cam3.mp4"))
        index.fail(str(work / "cam3.mp4"), "cam3.mp4: not a readable video")
        write_index(out, index)

    return once_per_run(tmp_path_factory, "chat_batch", make) / "out"


def step(action: str, **fields) -> dict:
    return {"text": json.dumps({"action": action} | fields)}


def test_a_batch_answers_across_its_videos_then_about_one(tmp_path, batch):
    script = tmp_path / "chat.jsonl"
    script.write_text("".join(json.dumps(e) + "\n" for e in [
        step("events"),
        step("answer", answer="cam2's fast object is the most severe.", cites=["cam2/e1", "cam9/e1", "cam1 17.5 s",
                                                                                  "cam1 400 s", "cam2"]),
        step("look", video="cam2", t0=17, t1=19, question="what moves fast?"),
        {"text": json.dumps({"answer": "a small bright object moving right", "frames": [1]})},
        step("event", event_id="cam2/e1"),
        step("answer", answer="A small object moves fast in cam2.", cites=["cam2 at 18 s"])]))
    context = BatchContext(batch, make_client(f"replay:{script}"))
    assert context.reported == ["cam1", "cam2"] and "1 of its 3 videos have no report" in context.notice
    session = ChatSession(context, memory=tmp_path / "chat.sqlite")

    videos = run_sync(session.ask("/videos")).text
    assert videos.index("- cam2: 0101.mp4, explained") < videos.index("- cam1: 0101.mp4, explained")  # severity 4 first
    assert "cam3.mp4: failed: cam3.mp4: not a readable video" in videos
    events = run_sync(session.ask("/events")).text.splitlines()
    assert events[0].startswith("- cam2/e1:") and ", severity 4, " in events[0]

    most = run_sync(session.ask("which video had the most severe event?"))
    assert most.tools == ["events()"] and most.cites == ["cam2/e1", "cam1 17.5 s", "cam2"]  # none outside the batch
    looked = run_sync(session.ask("what moves in cam2 around 18 s?"))
    assert looked.tools == ["look('cam2', 17, 19, 'what moves fast?')", "event('cam2/e1')"]
    assert looked.cites == ["cam2 at 18 s"]
    history = run_sync(session.history())
    assert "Looked at 17.0–19.0 s: a small bright object moving right" in history[-3]["content"]
    assert history[-2]["content"].startswith("cam2: e1 (") and "severity 4" in history[-2]["content"]

    # typed commands name the video first; another video's or an unknown one is refused, not guessed
    assert parse_command("/look cam1 12-15.5 what is it?", context.tools) == {
        "tool": "look", "video": "cam1", "t0": 12.0, "t1": 15.5, "question": "what is it?"}
    refused = run_sync(session.ask("/relations cam3.mp4 1-2")).text
    assert refused.startswith("Refused: no report of a video 'cam3.mp4' in this batch (failed)")
    assert "outside this video" in run_sync(session.ask("/relations cam1 50-60")).text
    guarded = run_sync(session.ask("what happens in cam1 at 400 s?"))  # one video named: its length answers, no model
    assert guarded.text.startswith("cam1: The video is ") and "400 s is outside it" in guarded.text and not guarded.tools
    with pytest.raises(UsageError, match="unknown command /timeline; commands: /videos · /events · /video VIDEO"):
        parse_command("/timeline", context.tools)
    with pytest.raises(UsageError, match="usage: /look VIDEO T0-T1 QUESTION"):
        parse_command("/look 12-15", context.tools)

    # the model can name only the batch's videos that have reports, and its events as VIDEO/ID
    schema = context.step_model(False).model_json_schema()
    assert schema["properties"]["video"]["enum"] == ["", "cam1", "cam2"]
    assert {"cam1/e1", "cam2/e1"} <= set(schema["properties"]["event_id"]["enum"])
    assert 'A video is named as listed above' in context.prompt([], False) and "- cam2: 0101.mp4" in context.prompt([], False)
    transcript = run_sync(session.transcript(markdown=False))
    assert transcript.startswith(f"# Conversation {session.conversation} about the batch in {batch}")


def test_chat_on_a_batch_s_folder_and_on_gathered_reports(tmp_path, batch):
    """`vadagent chat FOLDER` on a batch answers its commands without a model; a folder of report folders that no
    batch indexed (explain outputs gathered) is read as a batch too, its events from the reports."""
    result = invoke("chat", batch, "--memory", tmp_path / "chat.sqlite", input="/events\n/video cam1\n")
    assert result.returncode == 0, result.stderr
    assert "cam2/e1:" in result.stdout and "cam1:\n- e1:" in result.stdout and "candidate moment(s)" in result.stdout
    assert "1 of its 3 videos have no report" in result.stderr

    gathered = tmp_path / "gathered"
    for name in ("cam1", "cam2"):
        shutil.copytree(batch / name, gathered / name)
    assert is_batch(gathered) and not is_batch(gathered / "cam1")
    context = BatchContext(gathered, None)
    assert [v.name for v in context.videos] == ["cam1", "cam2"] and context.notice is None
    assert context.events_text().splitlines()[0].startswith("- cam2/e1:")  # the most severe first, as the index orders
    offline = run_sync(ChatSession(context, memory=tmp_path / "g.sqlite").ask("what happened?")).text
    assert offline.startswith("Answering in words needs a VLM (--vlm). Without one, use /videos, /events, /video VIDEO")


def test_a_tiny_vlm_writes_only_steps_the_batch_s_schema_allows(batch, tiny_vlm):
    """A real model's steps, decoded under the batch's narrowed schema (xgrammar, as in production), are valid ones:
    a tool of the batch's, one of its videos and its events as VIDEO/ID, every time, before any validation or retry.
    (The agent's loop with a real model is the web UI's test.)"""
    import jsonschema

    from vadagent.tools.vlm import Message, Sampling
    from vadagent.tools.vlm.local import TransformersClient
    from vadagent.tools.vlm.schema import decoding_schema

    context = BatchContext(batch, None)
    client = TransformersClient(str(tiny_vlm("smolvlm")), batch_size=8)
    prompt = context.prompt([{"role": "user", "content": "which videos show a fight?"}], must_answer=False)
    model = context.step_model(False)
    raw = run_sync(client._complete_batch([[Message.user(prompt)]] * 8, decoding_schema(model),
                                          Sampling(max_tokens=2000, temperature=1.0, seed=3)))
    for completion in raw:
        step = json.loads(completion.text)
        jsonschema.validate(step, model.model_json_schema())
        assert step.get("video", "") in ("", *context.reported) and step["action"] in (*context.tools, "answer")


def test_the_web_ui_asks_about_the_whole_batch_or_the_report_open(tmp_path, batch):
    """The page's "whole batch" box (shown for a batch's folder only) sends the question to the batch's chat, kept in
    the batch's folder; unticked, the question is about the report open, as before."""
    from vadagent.app.job import ClientLoad
    from vadagent.app.ui import App, UIOptions, batch_event_rows, build_ui, find_reports
    from vadagent.config import Settings

    shutil.copytree(batch, tmp_path / "batch")
    batch = tmp_path / "batch"
    script = tmp_path / "chat.jsonl"
    script.write_text(json.dumps(step("events")) + "\n" + json.dumps(step("answer", answer="cam2 had the most severe.",
                                                                          cites=["cam2/e1"])) + "\n")
    app = App(Settings(), UIOptions(reports=batch, vlm=None, workdir=tmp_path / "work"),
              ClientLoad(client=make_client(f"replay:{script}")))

    async def ask(question: str, report_dir: str | None, whole_batch: bool):
        return [shown async for shown in app.ask(question, [], report_dir, None, whole_batch)][-1]

    history, _, conversation = run_sync(ask("which video had the most severe event?", None, True))
    assert history[-1]["content"] == "cam2 had the most severe. [cam2/e1]<br><br>(tools: events())"
    assert (batch / "chat.sqlite").is_file() and not (batch / "cam1" / "chat.sqlite").exists()
    history, _, _ = run_sync(ask("/events", str(batch / "cam1"), False))
    assert history[-1]["content"].startswith("- e1: ") and (batch / "cam1" / "chat.sqlite").is_file()
    boxes = [c for c in build_ui(app).config["components"] if c.get("props", {}).get("elem_id") == "whole-batch"]
    assert boxes and boxes[0]["props"]["visible"] is True
    # a report's own folder given as --reports (its events.jsonl is one video's, not a batch's): that report, no box
    assert find_reports(batch / "cam1") == {"cam1": str(batch / "cam1")} and batch_event_rows(batch / "cam1") == []
    other = App(Settings(), UIOptions(reports=batch / "cam1", vlm=None, workdir=tmp_path / "work"), ClientLoad(client=None))
    boxes = [c for c in build_ui(other).config["components"] if c.get("props", {}).get("elem_id") == "whole-batch"]
    assert boxes and boxes[0]["props"]["visible"] is False


def test_a_step_schema_lists_names_up_to_its_bound_and_the_tools_refuse_others(tmp_path, batch):
    """Beyond `SCHEMA_NAMES` a name is a short text in the schema (a grammar of 10,000 ids took seconds to compile);
    a name that is not the batch's then reaches the tool, which refuses it naming the batch's own."""
    from vadagent.agents.chat.steps import SCHEMA_NAMES, step_model

    listed = step_model(["events"], [f"v/e{i}" for i in range(SCHEMA_NAMES)]).model_json_schema()["properties"]
    assert len(listed["event_id"]["enum"]) == SCHEMA_NAMES + 1  # and "" (none)
    bounded = step_model(["events"], [f"v/e{i}" for i in range(SCHEMA_NAMES + 1)]).model_json_schema()["properties"]
    assert "enum" not in bounded["event_id"] and bounded["event_id"]["pattern"].endswith("{0,200}$")
    session = ChatSession(BatchContext(batch, None), memory=tmp_path / "chat.sqlite")
    assert run_sync(session.ask("/event cam2/e9")).text.startswith("cam2: There is no event 'e9'; the events are: e1")
    assert run_sync(session.ask("/event e1")).text.startswith("Refused: 'e1' names no video: a batch's events are named")
