import json

import pytest
from pydantic import BaseModel

from vadagent.app.serve import ServeOptions, vllm_command
from vadagent.tools.vlm import Message, ModelSpecError, make_client
from vadagent.tools.vlm.replay import RecordingClient, ReplayClient


class Verdict(BaseModel):
    anomalous: bool
    reason: str


def test_replay_serves_scripted_answers_and_replays_retries(tmp_path):
    script = tmp_path / "calls.jsonl"
    script.write_text("\n".join(json.dumps(e) for e in [
        {"match": "clip 2", "text": '{"anomalous": false, "reason": "walkers"}'},
        {"text": '{"anomalous": "maybe"}'},  # invalid: fed back, then the next answer is used
        {"text": '{"anomalous": true, "reason": "a bike"}'},
    ]) + "\n")
    client = make_client(f"replay:{script}")
    first = client.generate([Message.user("clip 1")], Verdict)
    assert first.output.anomalous and first.usage.retries == 1
    assert client.generate([Message.user("look at clip 2")], Verdict).output.reason == "walkers"
    with pytest.raises(Exception, match="no recorded answer left"):
        client.generate([Message.user("clip 3")], Verdict)


def test_recorder_round_trip(tmp_path):
    source = tmp_path / "source.jsonl"
    source.write_text(json.dumps({"text": '{"anomalous": true, "reason": "x"}'}) + "\n")
    recorded = tmp_path / "recorded.jsonl"
    live = RecordingClient(ReplayClient(source), recorded)
    messages = [Message.user("clip 9")]
    assert live.generate(messages, Verdict).output.reason == "x"
    line = json.loads(recorded.read_text())
    assert line["key"] and line["text"] == '{"anomalous": true, "reason": "x"}'
    assert ReplayClient(recorded).generate(messages, Verdict).output.reason == "x"  # matched by key


@pytest.mark.parametrize("spec, problem", [
    ("gpt4", "missing 'KIND:'"), ("foo:bar", "unknown kind 'foo'"), ("vllm:model", "expected MODEL@http"),
    ("openai:m@ftp://x", "expected MODEL@http"),
])
def test_bad_model_strings_list_the_valid_forms(spec, problem):
    with pytest.raises(ModelSpecError, match=problem) as info:
        make_client(spec)
    for form in ("vllm:MODEL@URL", "openai:MODEL@URL", "hf:MODEL_OR_PATH", "replay:FILE"):
        assert form in str(info.value)


def test_good_model_strings():
    client = make_client("vllm:Qwen/Qwen2.5-VL-7B-Instruct@http://localhost:8000/v1")
    assert client.model_name == "Qwen/Qwen2.5-VL-7B-Instruct" and client.flavor == "vllm"
    assert client.base_url == "http://localhost:8000/v1"


def test_vllm_serve_flags():
    command = vllm_command(ServeOptions("Qwen/Qwen2.5-VL-7B-Instruct", port=8123, served_name="judge",
                                        max_model_len=16384, gpu_memory_utilization=0.8))
    assert command[:3] == ["vllm", "serve", "Qwen/Qwen2.5-VL-7B-Instruct"]
    flags = dict(zip(command[3::2], command[4::2]))
    assert flags["--port"] == "8123" and flags["--host"] == "127.0.0.1"
    assert flags["--served-model-name"] == "judge" and flags["--max-model-len"] == "16384"
    assert flags["--gpu-memory-utilization"] == "0.8"
    assert json.loads(flags["--limit-mm-per-prompt"]) == {"image": 32, "video": 1}
    assert json.loads(flags["--structured-outputs-config"]) == {"backend": "xgrammar"}
    assert ServeOptions("m", port=9).vlm_string == "vllm:m@http://127.0.0.1:9/v1"


def test_serve_without_vllm_fails_at_once_with_the_fix():
    import subprocess
    import sys
    from pathlib import Path

    result = subprocess.run([str(Path(sys.executable).with_name("vadagent")), "serve"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "pip install 'vadagent[vllm]'" in result.stderr


@pytest.mark.gpu
def test_serve_launches_vllm():  # needs vLLM and a CUDA GPU: never in the default run
    from vadagent.app.serve import check_can_serve

    check_can_serve()


def test_doctor_checks_a_named_model(tmp_path):
    from inprocess import invoke

    script = tmp_path / "calls.jsonl"
    script.write_text(json.dumps({"text": "A footpath with walkers."}) + "\n")
    result = invoke("doctor", "--vlm", f"replay:{script}")
    assert result.returncode == 0 and "A footpath with walkers." in result.stdout
    result = invoke("doctor", "--vlm", "vllm:m@http://127.0.0.1:9/v1", env={"VADAGENT_VLM__MAX_RETRIES": "0"})
    assert result.returncode == 1 and "FAIL" in result.stdout


def test_doctor_says_where_the_default_model_would_come_from(tmp_path, tiny_vlm):
    """Without --vlm: a note (never a failure) on the model explain would use, found without loading it."""
    from vadagent.app.doctor import _default_model
    from vadagent.config import Settings

    def note(model: str):
        check = _default_model(Settings(vlm={"model": model}))
        assert check.ok is None
        return check.detail

    assert note(f"hf:{tmp_path / 'missing'}").endswith("no such folder; without it, explain and report write "
                                                       "detection-only reports (exit 3)")
    assert "a local folder" in note(f"hf:{tiny_vlm('qwen2_5_vl')}")
    assert "checks that it answers" in note("vllm:m@http://127.0.0.1:9/v1")
    assert note("").startswith("hf:HuggingFaceTB/SmolVLM2-500M-Video-Instruct")  # the default, cached or not


def test_answers_lose_what_a_terminal_or_page_would_act_on(tmp_path):
    # a model quoting a sign may write escapes: a terminal's clipboard (OSC 52), a cleared screen, C1's
    # CSI, a bidirectional override; raw or as JSON escapes, they are taken out before validation
    script = tmp_path / "calls.jsonl"
    script.write_text("\n".join(json.dumps({"text": text}) for text in [
        '{"anomalous": true, "reason": "a sign\\u001b]52;c;aGk=\\u0007 reads \\u001b[2Jstop\\u202e"}',
        '{"anomalous": false, "reason": "tab\\tand\\nnewline stay, \u009b31m C1 goes"}',
        '{"anomalous": false, "reason": "plain"}',
    ]) + "\n")
    client = make_client(f"replay:{script}")
    first = client.generate([Message.user("clip 1")], Verdict)
    assert first.output.reason == "a sign]52;c;aGk= reads [2Jstop"
    assert "\x1b" not in first.text and "\\u001b" not in first.text
    assert client.generate([Message.user("clip 2")], Verdict).output.reason == "tab\tand\nnewline stay, 31m C1 goes"
    plain = client.generate([Message.user("clip 3")], Verdict)
    assert plain.text == '{"anomalous": false, "reason": "plain"}'  # nothing to take out: the text as sent
