"""The in-process transformers client on tiny random models of real architectures."""

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from pydantic import BaseModel, Field

from vadagent.tools.vlm import Image, Message, Sampling, Video
from vadagent.tools.vlm.local import TransformersClient
from vadagent.tools.vlm.schema import decoding_schema
from vadagent.types import AnomalyEvent

ARCHS = ["qwen2_5_vl", "smolvlm"]


@pytest.fixture(scope="module", params=ARCHS)
def client(request, tiny_vlm):
    return TransformersClient(str(tiny_vlm(request.param)), batch_size=25)


def frames(n, seed=0, size=(120, 160)):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (*size, 3), dtype=np.uint8) for _ in range(n)]


def test_answers_an_image_and_an_8_frame_video(client):
    image = client.generate([Message.user(Image(frames(1)[0], time_s=3.0), "What happens?")],
                            sampling=Sampling(max_tokens=12))
    assert image.usage.completion_tokens > 0 and image.usage.prompt_tokens > 10
    video = client.generate([Message.user(Video(tuple(frames(8)), tuple(0.5 * i for i in range(8))), "What happens?")],
                            sampling=Sampling(max_tokens=12))
    assert video.usage.prompt_tokens > image.usage.prompt_tokens  # eight frames cost more than one image


@pytest.mark.parametrize("count", [25, pytest.param(100, marks=pytest.mark.slow)])
def test_constrained_output_matches_the_anomaly_event_schema_every_time(client, count):
    from vadagent.tools.vlm import run_sync

    schema = AnomalyEvent.model_json_schema()
    conversations = [[Message.user(Image(f), "Describe the anomaly as JSON.")] for f in frames(count, seed=1, size=(56, 56))]
    raw = run_sync(client._complete_batch(conversations, decoding_schema(AnomalyEvent),
                                          Sampling(max_tokens=2000, temperature=1.0, seed=3)))
    assert len(raw) == count
    for completion in raw:  # the raw decoded text, before any validation or retry
        jsonschema.validate(json.loads(completion.text), schema)


def test_validation_failures_are_fed_back_and_bounded(client):
    answers = client.generate_many([[Message.user(Image(f), "JSON please.")] for f in frames(6, seed=2, size=(56, 56))],
                                   AnomalyEvent, Sampling(max_tokens=2000, temperature=1.0, seed=4))
    for answer in answers:  # each is a validated event or a clear error after the bounded retries
        if isinstance(answer, Exception):
            assert "failed validation as AnomalyEvent after 3 attempts" in str(answer)
        else:
            assert isinstance(answer.output, AnomalyEvent) and answer.output.end_s >= answer.output.start_s


def test_decoding_schema_bounds_strings_with_patterns_not_max_length():
    schema = json.dumps(decoding_schema(AnomalyEvent))
    assert "maxLength" not in schema and "maxItems" in schema and "\\\\x00-\\\\x1f" in schema


def test_missing_model_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from vadagent.tools.vlm import VLMUnavailable

    with pytest.raises(VLMUnavailable, match="hf download nobody/no-such-model-xyz") as missing:
        TransformersClient("nobody/no-such-model-xyz")
    # the command named is one the installed huggingface_hub has (1.0 dropped `huggingface-cli`)
    command = re.search(r"`(hf) (download) \S+", str(missing.value)).groups()
    assert subprocess.run([Path(sys.executable).parent / command[0], command[1], "--help"],
                          capture_output=True).returncode == 0
    with pytest.raises(VLMUnavailable, match="does not hold a loadable transformers model"):
        TransformersClient(str(tmp_path))
    with pytest.raises(VLMUnavailable, match="no such folder"):
        TransformersClient(str(tmp_path / "missing"))
    with pytest.raises(VLMUnavailable, match="cannot load the model"):
        TransformersClient("not a model id")
    (tmp_path / "config.json").write_text('{"model_type": "no_such_architecture"}')
    with pytest.raises(VLMUnavailable, match="does not hold a loadable transformers model"):
        TransformersClient(str(tmp_path))


class Note(BaseModel):
    anomalous: bool
    reason: str = Field(pattern=r'^[^\x00-\x1f"\\]{0,40}$')


def test_tokens_stream_to_on_text_as_they_are_generated(client):
    seen: list[str] = []
    result = client.generate([Message.user(Image(frames(1)[0]), "Describe it.")], Note,
                             sampling=Sampling(max_tokens=200), on_text=seen.append)
    assert len(seen) > 2 and seen[-1] == result.text  # several pieces, ending with the validated whole
    restarts = [i for i in range(1, len(seen)) if not seen[i].startswith(seen[i - 1])]
    assert len(restarts) == result.usage.retries  # each validation retry starts the text over, and only then
