"""Starting local servers for tests: a free port, and waiting until one answers."""

import json
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from vadagent.evals.servers import send_json


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def within(seconds: float, condition) -> bool:
    """Whether `condition()` holds within `seconds`, polled every 0.2 s."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def wait_until_up(process: subprocess.Popen, url: str, name: str, log: Path | None = None, timeout_s: float = 120) -> None:
    """Poll `url` until it answers 200; fail with the server's output if it exits or never answers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text()[-2000:] if log else (process.stderr.read()[-2000:] if process.stderr else "")
            pytest.fail(f"{name} exited: {output}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    pytest.fail(f"{name} did not start within {timeout_s:g} s")


class FaultServer:
    """A local OpenAI-compatible server that answers 500, slowly, in server-sent events, with
    garbage (not JSON), hangs (never answers), or answers well ("ok"), as told; counts requests and,
    with `keep_alive` (HTTP/1.1, for the well-answering behaviour), connections."""

    def __init__(self, behaviour: str, fail_times: int = 10**6, keep_alive: bool = False, delay_s: float = 0.0) -> None:
        self.behaviour, self.fail_times, self.requests, self.connections = behaviour, fail_times, 0, 0
        self.delay_s, self.active, self.most_active = delay_s, 0, 0  # a fixed latency; requests served at once
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def log_message(self, *args):
                pass

            def setup(self):
                outer.connections += 1
                super().setup()

            def do_POST(self):
                with lock:
                    outer.active += 1
                    outer.most_active = max(outer.most_active, outer.active)
                self.answering = True
                try:
                    self._answer()
                finally:
                    self._answered()

            def send_response(self, *args, **kwargs):
                # no longer served once its answer goes out: the client may send its next request before this
                # thread's `finally` runs (an endpoint read as serving 3 at once with a limit of 2, on a busy machine)
                self._answered()
                super().send_response(*args, **kwargs)

            def _answered(self):
                with lock:
                    if getattr(self, "answering", False):
                        self.answering = False
                        outer.active -= 1

            def _answer(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    outer.requests += 1
                time.sleep(outer.delay_s)
                if outer.requests <= outer.fail_times and outer.behaviour == "500":
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"boom")
                    return
                if outer.requests <= outer.fail_times and outer.behaviour == "slow":
                    time.sleep(1.5)
                if outer.behaviour == "hang":
                    time.sleep(3600)
                    return
                if outer.behaviour == "garbage":
                    body = b"<html>this is not JSON</html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if outer.behaviour == "sse":  # server-sent events, a few characters per event, usage last
                    text = '{"anomalous": true, "reason": "fast bike"}'
                    events = [{"choices": [{"delta": {"content": text[i : i + 7]}}]} for i in range(0, len(text), 7)]
                    events.append({"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5}})
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for event in events:
                        self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                    return
                body = json.dumps({"choices": [{"message": {"content": '{"anomalous": true, "reason": "fast bike"}'}}],
                                   "usage": {"prompt_tokens": 10, "completion_tokens": 5}}).encode()
                send_json(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()



class RtspSetups:
    """An RTSP server that answers a client's OPTIONS, DESCRIBE (one H.264 track), SETUP and PLAY, then
    hangs up, sending no media: what it keeps is each SETUP's Transport header, the way the client asked
    for the packets (interleaved in the TCP connection, or to its UDP ports)."""

    SDP = ("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=camera\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\n"
           "a=rtpmap:96 H264/90000\r\na=control:track1\r\n")

    def __init__(self):
        self.transports: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"rtsp://127.0.0.1:{self._server.getsockname()[1]}/camera"
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        self._server.close()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:  # closed
                return
            with connection:
                self._answer(connection)

    def _answer(self, connection: socket.socket) -> None:
        pending = b""
        while data := connection.recv(4096):
            pending += data
            while b"\r\n\r\n" in pending:
                head, pending = pending.split(b"\r\n\r\n", 1)
                lines = head.decode().split("\r\n")
                headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
                method, body, extra = lines[0].split()[0], "", ""
                if method == "DESCRIBE":
                    body, extra = self.SDP, "Content-Type: application/sdp\r\n"
                elif method == "SETUP":
                    self.transports.append(headers.get("Transport", ""))
                    extra = f"Transport: {headers.get('Transport', '')}\r\nSession: 1\r\n"
                connection.sendall((f"RTSP/1.0 200 OK\r\nCSeq: {headers.get('CSeq', '0')}\r\n{extra}"
                                    f"Content-Length: {len(body)}\r\n\r\n{body}").encode())
                if method == "PLAY":
                    return
