"""Local stand-in servers for tests and benchmarks: an OpenAI-compatible endpoint that answers
every request with a fixed text after a fixed latency (a model server whose cost is known), and a
camera on the network (a clip served as a live MPEG-TS stream over HTTP, what ffmpeg and many IP
cameras serve, paced at the clip's own rate and looping, that can be cut for a while as a camera
that loses power or network is)."""

from __future__ import annotations

import json
import threading
import time
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def send_json(handler: BaseHTTPRequestHandler, body: bytes) -> None:
    """A 200 with a JSON body; a client that gave up waiting (a stopped watch, a timeout) is let go."""
    try:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    except OSError:
        pass


def answering_server(content: str, latency_s: float = 0.0, *, keep_alive: bool = True) -> ThreadingHTTPServer:
    """Answers every chat completion with `content` after `latency_s`, requests in parallel (as a
    batching server does). Stop it with `.shutdown()`."""
    body = json.dumps({"choices": [{"message": {"content": content}}],
                       "usage": {"prompt_tokens": 100, "completion_tokens": 10}}).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            time.sleep(latency_s)
            send_json(self, body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def url(server: ThreadingHTTPServer) -> str:
    """The OpenAI-compatible base URL of an `answering_server`."""
    return f"http://127.0.0.1:{server.server_address[1]}/v1"


class LiveStreamServer:
    """`cut(seconds)` drops the connection and refuses new ones for that long."""

    def __init__(self, clip: Path) -> None:
        import av

        self.ts = clip.with_suffix(".ts")
        with av.open(str(clip)) as src, av.open(str(self.ts), "w", format="mpegts") as out:
            source = src.streams.video[0]
            fps = round(float(source.average_rate or 25))
            stream = out.add_stream("libx264", rate=fps)
            stream.width, stream.height, stream.pix_fmt = source.width - source.width % 2, source.height - source.height % 2, \
                "yuv420p"
            stream.options = {"g": str(fps), "bf": "0"}  # a keyframe a second: a reconnecting reader starts soon
            for number, frame in enumerate(src.decode(video=0)):
                picture = frame.reformat(width=stream.width, height=stream.height, format="yuv420p")
                picture.pts, picture.time_base = number, Fraction(1, fps)  # the clip's frames, renumbered
                out.mux(stream.encode(picture))
            out.mux(stream.encode())
        self.data, self.seconds, self.fps = self.ts.read_bytes(), src_seconds(clip), fps
        self.down_until, self.connections = 0.0, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if time.monotonic() < outer.down_until:
                    self.send_response(503)
                    self.end_headers()
                    return
                outer.connections += 1
                self.send_response(200)
                self.send_header("Content-Type", "video/mp2t")
                self.end_headers()
                step = max(188 * 40, len(outer.data) // max(1, int(outer.seconds * 20)))
                pause = outer.seconds * step / len(outer.data)
                try:
                    while True:  # a live camera never ends; it loops the clip
                        for start in range(0, len(outer.data), step):
                            if time.monotonic() < outer.down_until:
                                return  # cut: the connection drops
                            self.wfile.write(outer.data[start : start + step])
                            self.wfile.flush()
                            time.sleep(pause)
                except OSError:
                    return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/live.ts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def cut(self, seconds: float) -> None:
        self.down_until = time.monotonic() + seconds

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def src_seconds(clip: Path) -> float:
    import av

    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        return float(stream.frames / stream.average_rate)
