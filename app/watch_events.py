"""What a watch keeps of its events: events.jsonl and events.sqlite side by side, alerts POSTed to a webhook, and
its clips, keyframes and reports pruned by age and size."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import stat
import time
from pathlib import Path

import httpx

from vadagent.tools.video.live import redacted

log = logging.getLogger(__name__)


def status_said(status: str, below_threshold: bool) -> str:
    """An event's status as the terminal and the live page say it, naming a moment the coverage floor
    gave the model (a stretch's peak below the threshold) as one."""
    return status + (" (coverage, below the threshold)" if below_threshold else "")


class EventLog:
    """events.jsonl (appended and flushed per event) and events.sqlite, side by side."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.jsonl = (folder / "events.jsonl").open("a", encoding="utf-8")
        self.db = sqlite3.connect(folder / "events.sqlite")
        self.db.execute("create table if not exists events (id text primary key, camera text, opened_at real, "
                        "alerted_at real, explained integer, category text, severity integer, what text, json text)")

    def add(self, record: dict) -> None:
        self.jsonl.write(json.dumps(record) + "\n")
        self.jsonl.flush()
        event = record.get("event") or {}
        self.db.execute("insert or replace into events values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (record["id"], record["camera"], record["opened_at"], record["alerted_at"],
                         int(record["explained"]), event.get("category"), event.get("severity"), event.get("what"),
                         json.dumps(record)))
        self.db.commit()

    def close(self) -> None:
        self.jsonl.close()
        self.db.close()


async def post_alert(url: str, record: dict, attempts: int = 3) -> bool:
    """POST the event as JSON, retried with back-off; a webhook that never answers is logged, not fatal."""
    async with httpx.AsyncClient(timeout=10.0) as client:
        for attempt in range(attempts):
            try:
                response = await client.post(url, json=record)
                if response.status_code < 300:
                    return True
                problem = f"HTTP {response.status_code}"
            except httpx.HTTPError as error:
                problem = f"{type(error).__name__}: {error}"
            await asyncio.sleep(0.5 * 2**attempt)
    log.warning("webhook %s: the alert for %s was not delivered (%s)", redacted(url), record["id"],
                problem.replace(url, redacted(url)))
    return False


PRUNE_EVERY_S = 60.0  # a week's clips and keyframes are many files: walked once a minute, not after every event


def prune(output: Path, keep_days: float | None, max_gb: float | None) -> int:
    """Clips, keyframes and event reports older than `keep_days`, then the oldest beyond `max_gb`, are
    deleted, and the folders they leave empty; returns how many files went."""
    if keep_days is None and max_gb is None:
        return 0
    found = []  # (modified, size, path) of every file kept
    for folder in ("clips", "keyframes", "reports"):
        for path in (output / folder).rglob("*"):
            try:
                info = path.stat()
            except FileNotFoundError:  # removed meanwhile
                continue
            if stat.S_ISREG(info.st_mode):
                found.append((info.st_mtime, info.st_size, path))
    found.sort()
    cutoff = time.time() - keep_days * 86400 if keep_days is not None else float("-inf")
    budget = max_gb * 1e9 if max_gb is not None else float("inf")
    total = sum(size for _, size, _ in found)
    emptied: set[Path] = set()
    removed = 0
    for modified, size, path in found:  # oldest first
        if modified >= cutoff and total <= budget:
            break
        path.unlink(missing_ok=True)
        total, removed = total - size, removed + 1
        emptied.add(path.parent)
    tops = {output / folder for folder in ("clips", "keyframes", "reports")}
    for folder in sorted(emptied, key=lambda p: len(p.parts), reverse=True):  # the deepest first
        while folder not in tops and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
    return removed
