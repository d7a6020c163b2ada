"""The batch index: one SQLite row per video, so batch runs resume and chat can find reports, and one per event
a model explained, so the batch lists its events across videos (the list travels with the index, as it does).

A finished video is `explained` (the VLM judged every candidate) or `detected` (a report holds the
detection, but no VLM was reachable or some of its calls failed): a rerun with a working model
redoes `detected` videos, never `explained` ones."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path

from vadagent.errors import UsageError
from vadagent.jsonlio import numbered_jsonl
from vadagent.types import AnomalyEvent, Verdict

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
EVENTS_SCHEMA = """
create table if not exists events (
    source text not null, id text not null,
    start_s real not null, end_s real not null, category text not null, label text not null,
    severity integer not null, verdict text not null, confidence real not null, what text not null,
    primary key (source, id)
)
"""
EVENT_COLUMNS = "id, start_s, end_s, category, label, severity, verdict, confidence, what"


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


@dataclass(frozen=True)
class IndexEvent:
    """One event of a finished video's report, as the batch lists it."""

    source: str
    report: str  # the video's report.json (a path or URL)
    id: str
    start_s: float
    end_s: float
    category: str
    label: str
    severity: int
    verdict: str
    confidence: float
    what: str


FINISHED = ("explained", "detected", "done")  # statuses of a video with a report ("done": indexes before release 14)


def read_batch_rows(folder: Path) -> list[IndexRow] | None:
    """A batch's rows as its index.json holds them (written by `vadagent report` beside the reports); None for a
    folder without one. A row missing a later release's column has it empty."""
    file = folder / "index.json"
    if not file.is_file():
        return None
    try:
        rows = json.loads(file.read_text(encoding="utf-8"))
        if isinstance(rows, list) and all(isinstance(r, dict) and isinstance(r.get("source"), str)
                                          and isinstance(r.get("status"), str) for r in rows):
            return [IndexRow(**{f.name: r.get(f.name) for f in fields(IndexRow)}) for r in rows]
    except (UnicodeDecodeError, json.JSONDecodeError):
        pass
    raise UsageError(f"{file}: not a batch index (a JSON list of rows written by 'vadagent report')")


def read_batch_events(folder: Path) -> list[IndexEvent]:
    """A batch's events across its videos as its events.jsonl lists them, the most severe first; none for a folder
    without one (not a batch's, or a batch from before events were listed). A report's folder holds an events.jsonl
    of its own, one video's, which is not a batch's."""
    file = folder / "events.jsonl"
    if not file.is_file() or (folder / "report.json").is_file():
        return []
    events = []
    for number, event in numbered_jsonl(file):
        try:
            events.append(IndexEvent(str(event["source"]), str(event["report"]), str(event["id"]), float(event["start_s"]),
                                     float(event["end_s"]), str(event["category"]), str(event["label"]),
                                     int(event["severity"]), str(event["verdict"]), float(event["confidence"]),
                                     str(event["what"])))
        except (KeyError, TypeError, ValueError):
            raise UsageError(f"{file}: line {number}: not an event of a batch (written by 'vadagent report')") from None
    return events


def report_folder(folder: Path, report: str) -> Path:
    """Where a batch's report of a video is, within the batch's `folder` wherever the batch ran from: a batch writes
    OUT/<name>/report.json, and its index names the report as it was written (a path there, or a URL)."""
    return folder / Path(report).parent.name


class ReportIndex:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None)  # autocommit: every update is durable
        self._db.execute("pragma journal_mode=wal")
        self._migrate()
        self._db.execute(SCHEMA)
        self._db.execute(EVENTS_SCHEMA)

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

    def record_events(self, source: str, events: Iterable[AnomalyEvent]) -> None:
        """`source`'s events, replacing those of an earlier report of it (in one transaction: all or none)."""
        rows = [(source, e.id, e.start_s, e.end_s, e.category, e.label, int(e.severity), str(e.verdict), e.confidence,
                 e.what) for e in events]
        with self._db:  # one transaction, committed as it ends or rolled back on an error
            self._db.execute("begin")
            self._db.execute("delete from events where source = ?", (source,))
            self._db.executemany(f"insert into events (source, {EVENT_COLUMNS}) values (?{', ?' * 9})", rows)

    def has_events(self, source: str) -> bool:
        return self._db.execute("select 1 from events where source = ? limit 1", (source,)).fetchone() is not None

    def events(self) -> list[IndexEvent]:
        """The events of every finished video, the most severe first: those the model judged normal last, then by
        severity, confidence, video and time."""
        cursor = self._db.execute(
            f"select source, videos.report, {', '.join(f'events.{c}' for c in EVENT_COLUMNS.split(', '))} "
            "from events join videos using (source) where videos.status in ('explained', 'detected') "
            "order by events.verdict = ?, events.severity desc, events.confidence desc, source, events.start_s",
            (str(Verdict.REJECTED),))
        return [IndexEvent(*row) for row in cursor.fetchall()]

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
