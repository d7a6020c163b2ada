"""The batch index: one SQLite row per video, so batch runs resume and chat can find reports.

A finished video is `explained` (the VLM judged every candidate) or `detected` (a report holds the
detection, but no VLM was reachable or some of its calls failed): a rerun with a working model
redoes `detected` videos, never `explained` ones."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
create table if not exists videos (
    source text primary key,
    status text not null check (status in ('pending', 'running', 'explained', 'detected', 'failed')),
    report text,
    candidates integer, events integer, confirmed integer, max_severity integer,
    error text, started_at real, finished_at real,
    peak_score real
)
"""
COLUMNS = "source, status, report, candidates, events, confirmed, max_severity, peak_score, error"


@dataclass(frozen=True)
class IndexRow:
    source: str
    status: str
    report: str | None
    candidates: int | None
    events: int | None
    confirmed: int | None
    max_severity: int | None
    peak_score: float | None  # the highest candidate's, for ranking a batch that no model explained
    error: str | None


class ReportIndex:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None)  # autocommit: every update is durable
        self._db.execute("pragma journal_mode=wal")
        self._migrate()
        self._db.execute(SCHEMA)

    def _migrate(self) -> None:
        """Indexes written before statuses were split had 'done': whether explained is unknown, so redo. Those
        written before the peak score was kept have the column added, empty (a rerun of a video fills it)."""
        row = self._db.execute("select sql from sqlite_master where name = 'videos'").fetchone()
        if row is None:
            return
        if "'explained'" not in row[0]:
            self._db.execute("alter table videos rename to videos_old")
            self._db.execute(SCHEMA)
            self._db.execute("insert into videos (source, status, report, candidates, events, confirmed, max_severity, "
                             "error, started_at, finished_at) select source, "
                             "case status when 'done' then 'detected' else status end, "
                             "report, candidates, events, confirmed, max_severity, error, started_at, finished_at "
                             "from videos_old")
            self._db.execute("drop table videos_old")
        elif "peak_score" not in row[0]:
            self._db.execute("alter table videos add column peak_score real")

    def status(self, source: str) -> str | None:
        row = self._db.execute("select status from videos where source = ?", (source,)).fetchone()
        return row[0] if row else None

    def start(self, source: str) -> None:
        self._db.execute("insert into videos (source, status, started_at) values (?, 'running', ?) "
                         "on conflict(source) do update set status='running', error=null, started_at=excluded.started_at",
                         (source, time.time()))

    def finish(self, source: str, report: str, *, explained: bool, candidates: int, events: int, confirmed: int,
               max_severity: int | None, peak_score: float | None = None, note: str | None = None) -> None:
        self._db.execute("update videos set status=?, report=?, candidates=?, events=?, confirmed=?, "
                         "max_severity=?, peak_score=?, error=?, finished_at=? where source=?",
                         ("explained" if explained else "detected", report, candidates, events, confirmed, max_severity,
                          peak_score, note, time.time(), source))

    def fail(self, source: str, error: str) -> None:
        self._db.execute("update videos set status='failed', error=?, finished_at=? where source=?",
                         (error[:2000], time.time(), source))

    def interrupt(self, source: str) -> None:
        """A video under way when the run was stopped: pending again, for the rerun."""
        self._db.execute("update videos set status='pending', error='interrupted: a rerun explains it' where source=?",
                         (source,))

    def rows(self) -> list[IndexRow]:
        cursor = self._db.execute(f"select {COLUMNS} from videos order by source")
        return [IndexRow(*row) for row in cursor.fetchall()]

    def close(self) -> None:
        self._db.close()
