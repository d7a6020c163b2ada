"""The HTTP client against real local servers: `transformers serve`, and a server made to fail."""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel
from servers import FaultServer, free_port, wait_until_up

from vadagent.tools.vlm import Image, Message, Sampling, Video, VLMOutputError, VLMUnavailable, make_client
from vadagent.tools.vlm.http import OpenAICompatibleClient


@pytest.fixture(scope="module")
def transformers_server(tiny_vlm):
    """`transformers serve` on 127.0.0.1 with a tiny Qwen2.5-VL, started and stopped here."""
    folder, port = tiny_vlm("qwen2_5_vl"), free_port()
    exe = str(Path(sys.executable).with_name("transformers"))
    process = subprocess.Popen([exe, "serve", str(folder), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/v1"
    wait_until_up(process, f"{url}/models", "transformers serve")
    yield str(folder), url
    process.terminate()
    process.wait(timeout=30)


class Verdict(BaseModel):
    anomalous: bool
    reason: str


def test_round_trip_with_an_image(transformers_server):
    model, url = transformers_server
    client = make_client(f"openai:{model}@{url}", timeout_s=60)
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    result = client.generate([Message.user(Image(frame, time_s=2.0), "Describe the image.")],
                             sampling=Sampling(max_tokens=8))
    assert result.output is None and isinstance(result.text, str)
    assert result.usage.latency_s > 0


def test_a_server_that_ignores_the_schema_gets_validated_retried_then_a_clear_error(transformers_server):
    model, url = transformers_server
    client = make_client(f"openai:{model}@{url}", timeout_s=60)
    client.validation_retries = 2
    frame = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(VLMOutputError, match=r"failed validation as Verdict after 3 attempts"):
        client.generate([Message.user(Image(frame), "Is this anomalous? JSON.")], Verdict, Sampling(max_tokens=8))


@pytest.mark.parametrize("behaviour", ["500", "slow"])
def test_failures_are_retried_then_fail_cleanly(behaviour):
    server = FaultServer(behaviour)
    client = OpenAICompatibleClient("m", server.url, timeout_s=0.5, max_retries=2, backoff_s=0.05)
    started = time.monotonic()
    with pytest.raises(VLMUnavailable, match="did not answer after 3 attempts"):
        client.generate([Message.user("hello")], Verdict)
    assert server.requests == 3 and time.monotonic() - started < 10
    server.close()


def test_a_transient_500_is_retried_and_then_succeeds():
    server = FaultServer("500", fail_times=2)
    client = OpenAICompatibleClient("m", server.url, max_retries=3, backoff_s=0.05)
    result = client.generate([Message.user("hello")], Verdict)
    assert result.output == Verdict(anomalous=True, reason="fast bike") and result.usage.retries == 2
    server.close()


def test_refused_connections_fail_cleanly():
    client = OpenAICompatibleClient("m", f"http://127.0.0.1:{free_port()}/v1", max_retries=2, backoff_s=0.05)
    with pytest.raises(VLMUnavailable, match="cannot connect"):
        client.generate([Message.user("hello")])


def test_concurrency_is_bounded():
    server = FaultServer("slow", fail_times=10**6)  # every answer takes 1.5 s
    client = OpenAICompatibleClient("m", server.url, timeout_s=5, concurrency=4)
    started = time.monotonic()
    answers = client.generate_many([[Message.user(f"q{i}")] for i in range(8)], Verdict)
    elapsed = time.monotonic() - started
    assert all(a.output.anomalous for a in answers)
    assert server.most_active == 4  # four at once, never more
    # the time only rules out all at once (1.5 s) and one after another (12 s): a busy machine adds to each wave
    assert 2.9 < elapsed < 11.0
    server.close()


def test_vllm_request_body_is_pinned():
    client = OpenAICompatibleClient("Qwen/Qwen2.5-VL-7B-Instruct", "http://localhost:8000/v1", flavor="vllm")
    frame = np.zeros((4, 6, 3), np.uint8)
    video = Video((frame, frame), (1.0, 1.5))
    body = client.request_body([Message.system("You judge CCTV."), Message.user(Image(frame, 0.5), video, "What?")],
                               {"type": "object"}, Sampling(max_tokens=64, temperature=0.0, seed=7))
    assert body["model"] == "Qwen/Qwen2.5-VL-7B-Instruct"
    assert body["structured_outputs"] == {"json": {"type": "object"}}  # vLLM >= 0.12; guided_json is gone
    assert "response_format" not in body and "guided_json" not in body
    assert body["messages"][0] == {"role": "system", "content": "You judge CCTV."}
    content = body["messages"][1]["content"]
    assert [c["type"] for c in content] == ["text", "image_url", "text", "image_url", "text", "image_url", "text"]
    assert content[0]["text"] == "[frame at 0.50 s]" and content[2]["text"] == "[frame at 1.00 s]"
    assert content[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert (body["max_tokens"], body["temperature"], body["seed"]) == (64, 0.0, 7)
    client.video_mode = "video_url"
    body = client.request_body([Message.user(video)], None, Sampling())
    assert body["messages"][0]["content"][1]["video_url"]["url"].startswith("data:video/mp4;base64,")
    client = OpenAICompatibleClient("gpt", "http://h/v1", flavor="openai")
    openai = client.request_body([Message.user("x")], {"type": "object"}, Sampling())
    schema_format = {"name": "answer", "schema": {"type": "object"}, "strict": True}
    assert openai["response_format"] == {"type": "json_schema", "json_schema": schema_format}


def test_images_are_resized_to_the_configured_side():
    from vadagent.tools.vlm.media import MediaLimits, prepare

    big = np.zeros((1080, 1920, 3), np.uint8)
    (message,) = prepare([Message.user(Image(big), Video(tuple([big] * 40), tuple(range(40))))], MediaLimits(512, 8))
    assert message.parts[0].pixels.shape == (288, 512, 3)
    assert len(message.parts[1].frames) == 8 and message.parts[1].times_s[-1] == 39


@pytest.mark.parametrize("behaviour", ["sse", "ok"])
def test_streamed_answers_grow_then_validate(behaviour):
    """`on_text` sees the answer grow over server-sent events; a server that ignores `stream` answers in one piece."""
    server = FaultServer(behaviour)
    try:
        client = make_client(f"openai:m@{server.url}", max_retries=0)
        seen: list[str] = []
        result = client.generate([Message.user("is it anomalous?")], Verdict, on_text=seen.append)
    finally:
        server.close()
    assert result.output == Verdict(anomalous=True, reason="fast bike")
    assert seen[-1] == result.text and all(b.startswith(a) for a, b in zip(seen, seen[1:]))
    assert len(seen) == (6 if behaviour == "sse" else 1)
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (10, 5)


def test_streaming_from_transformers_serve(transformers_server):
    model, url = transformers_server
    client = make_client(f"openai:{model}@{url}", timeout_s=60)
    seen: list[str] = []
    result = client.generate([Message.user("Say something.")], sampling=Sampling(max_tokens=12), on_text=seen.append)
    assert seen and seen[-1] == result.text


def test_one_connection_pool_serves_every_call_of_a_loop():
    """A batch makes many calls on one event loop: they reuse kept-alive connections, not a new pool each."""
    from vadagent.tools.vlm import run_sync

    server = FaultServer("ok", keep_alive=True)
    client = OpenAICompatibleClient("m", server.url, concurrency=1, max_retries=0)

    async def calls():
        for _ in range(5):
            await client.agenerate([Message.user("hello")])
        await client.aclose()
    try:
        run_sync(calls())
    finally:
        server.close()
    assert server.requests == 5 and server.connections == 1


def test_a_pool_spreads_requests_within_each_endpoints_limit_and_routes_around_a_dead_one():
    """`vllm:MODEL@URL1,URL2,URL3`: least in flight first, each endpoint's own concurrency, a refused
    endpoint backed off while the others carry the load."""
    from vadagent.tools.vlm import run_sync

    servers = [FaultServer("ok", delay_s=0.4) for _ in range(3)]
    try:
        pool = make_client("vllm:m@" + ",".join(s.url for s in servers), concurrency=2, max_retries=1)
        assert pool.capacity == 6 and pool.model.count("http://") == 3
        started = time.perf_counter()
        answers = pool.generate_many([[Message.user(f"q{i}")] for i in range(18)])
        took = time.perf_counter() - started
        assert all(not isinstance(a, Exception) for a in answers)
        # each endpoint served two at once and never more; the time only rules out requests one after another
        # (18 × 0.4 s): on two busy cores three waves of six took 2.1 s once, so the waves are counted, not timed
        assert [s.requests for s in servers] == [6, 6, 6] and [s.most_active for s in servers] == [2, 2, 2]
        assert took < 18 * 0.4 / 2
        dead = f"http://127.0.0.1:{free_port()}/v1"  # refuses: backed off, its requests go to the others
        pool = make_client(f"vllm:m@{dead},{servers[0].url},{servers[1].url}", concurrency=2, max_retries=1)
        answers = run_sync(pool.agenerate_many([[Message.user(f"r{i}")] for i in range(8)]))
        assert all(not isinstance(a, Exception) for a in answers)
        assert servers[0].requests + servers[1].requests == 12 + 8 and max(s.most_active for s in servers) <= 2
        assert pool.endpoints[0].failures >= 1 and pool.endpoints[0].served == 0 and pool.endpoints[0].retry_at > 0
    finally:
        for server in servers:
            server.close()
