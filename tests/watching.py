"""What the `vadagent watch` and `record` tests share: the installed command, a camera's site (normal footage,
its fitted scorer, a clip with a fast object, a replay judge) and a local webhook that keeps what it is sent."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from inprocess import invoke

from vadagent.tools.synthetic import ClipSpec, render_clip

VADAGENT = str(Path(sys.executable).with_name("vadagent"))
JUDGED = {"category": "motion", "label": "fast object", "what": "an object crosses fast", "cause": "unknown cause",
          "effect": "walkers look", "severity": 2, "severity_rationale": "nobody is hurt", "confidence": 0.7,
          "evidence_frames": [0], "matched_rules": []}


def make_site(folder: Path) -> None:
    """The `site` fixture's folder: 12 s of normal footage and its scorer (fitted as a command in a test fits), 8 s of
    the camera with a fast object at 3 s and its truth, and 40 replayed judgements of that object."""
    render_clip(ClipSpec(seconds=12, seed=1), folder / "normal.mp4")
    render_clip(ClipSpec(seconds=8, seed=2, anomalies=[("fast", 3.0)]), folder / "camera.mp4").save(folder / "truth.json")
    fitted = invoke("-q", "fit", folder / "normal.mp4", "-o", folder / "scorer")
    assert fitted.returncode == 0, fitted.stderr
    (folder / "judge.jsonl").write_text("".join(json.dumps({"text": json.dumps(JUDGED)}) + "\n" for _ in range(40)))


class Webhook:
    """A local HTTP server that keeps the JSON body of each POST it is sent (a watch's alerts), in order."""

    def __init__(self):
        self.received: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                outer.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
