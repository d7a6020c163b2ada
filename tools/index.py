"""The batch index: one SQLite row per video, so batch runs resume and chat can find reports."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
create table if not exists videos (
    source text primary key,
    status text not null check (status in ('pending', 'running', 'done', 'failed')),
    report text,
    candidates integer, events integer, confirmed integer, max_severity integer,
    error text, started_at real, finished_at real
)
"""


@dataclass(frozen=True)
class IndexRow:
    source: str
    status: str
    report: str | None
    candidates: int | None
    events: int | None
    confirmed: int | None
    max_severity: int | None
    error: str | None


class ReportIndex:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None)  # autocommit: every update is durable
        self._db.execute("pragma journal_mode=wal")
        self._db.execute(SCHEMA)

    def status(self, source: str) -> str | None:
        row = self._db.execute("select status from videos where source = ?", (source,)).fetchone()
        return row[0] if row else None

    def start(self, source: str) -> None:
        self._db.execute("insert into videos (source, status, started_at) values (?, 'running', ?) "
                         "on conflict(source) do update set status='running', error=null, started_at=excluded.started_at",
                         (source, time.time()))

    def finish(self, source: str, report: str, *, candidates: int, events: int, confirmed: int,
               max_severity: int | None) -> None:
        self._db.execute("update videos set status='done', report=?, candidates=?, events=?, confirmed=?, "
                         "max_severity=?, finished_at=? where source=?",
                         (report, candidates, events, confirmed, max_severity, time.time(), source))

    def fail(self, source: str, error: str) -> None:
        self._db.execute("update videos set status='failed', error=?, finished_at=? where source=?",
                         (error[:2000], time.time(), source))

    def rows(self) -> list[IndexRow]:
        cursor = self._db.execute("select source, status, report, candidates, events, confirmed, max_severity, error "
                                  "from videos order by source")
        return [IndexRow(*row) for row in cursor.fetchall()]

    def close(self) -> None:
        self._db.close()
