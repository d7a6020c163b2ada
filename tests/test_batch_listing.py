"""What a batch lists: the videos a folder or manifest holds, the report folder each gets, and the index of
what was done and found (videos ranked, events across them)."""

import json
import sqlite3
from pathlib import Path

import pytest

from vadagent.types import VideoReport


def test_report_folders_never_collide_however_the_videos_are_named():
    """A manifest may list cam1/0101.mp4 and cam2/0101.mp4: each gets a folder of its own, the same in
    any order (a resumed batch finds its reports); the names stay readable where they can."""
    from vadagent.app.batch import output_names

    videos = [Path("/d/cam1/0101.mp4"), Path("/d/cam2/0101.mp4"), Path("/d/a_car.mp4"), Path("/d/a_car.MKV"),
              Path("/d/scorer.mp4"), Path("/d/solo.mp4"), Path("/d/clip.mp4"), Path("/d/clip"), Path("/d/A.mp4"),
              Path("/d/a.mp4")]
    names = output_names(videos)
    assert len({name.lower() for name in names.values()}) == len(videos)
    assert [names[v] for v in videos[2:8]] == ["a_car_mp4", "a_car_mkv", "scorer_mp4", "solo", "clip_mp4", "clip_frames"]
    assert all(names[v].startswith("0101_mp4_") for v in videos[:2])
    assert output_names(videos[::-1]) == names


def test_a_folder_s_videos_are_its_files_and_frame_folders_and_its_subfolders_are_read_when_asked(
        tmp_path, monkeypatch, caplog):
    """Ped2's `testing/frames` is twelve videos; a recorder's export nests them by camera and day. Without
    --recursive those below are counted, not read; a run's own output, hidden folders and links back up the
    tree are never read as input."""
    from rich.console import Console

    from vadagent.app.batch import find_videos
    from vadagent.errors import UsageError

    top = tmp_path / "export"

    def files(folder: Path, *names: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            (folder / name).write_bytes(b"x")  # names alone decide what is a video here

    files(top, "b.mp4", "a.MKV", "notes.txt")
    files(top / "10", "000.jpg", "001.jpg")
    files(top / "2", "000.tif", "001.tif", "._000.tif")
    files(top / "cam1" / "2026-12-01", "0101.mp4")
    files(top / "cam2", "0101.mp4")
    files(top / "snapshot", "only.jpg")  # one image is not footage
    files(top / ".trash", "old.mp4")
    files(top / "out" / "a", "keyframe0.jpg", "keyframe1.jpg")  # this run's output (-o export/out)
    files(top / "earlier" / "b", "keyframe0.jpg", "keyframe1.jpg")
    files(top / "earlier", ".vadagent.lock")  # another run's output
    files(top / "explained", "report.json", "preview.mp4")  # a report (-o inside the folder), its UI copy beside it
    (top / "cam1" / "up").symlink_to(top, target_is_directory=True)
    files(top / "locked", "0101.mp4")  # a folder this user may not read (tests run as root here: refused below)
    iterdir = Path.iterdir

    def refusing(folder: Path):
        if folder.name == "locked":
            raise PermissionError(13, "Permission denied", str(folder))
        return iterdir(folder)

    monkeypatch.setattr(Path, "iterdir", refusing)

    console = Console(record=True, width=200)
    flat = find_videos(top, output=top / "out", console=console)
    assert [p.relative_to(top).as_posix() for p in flat.videos] == ["2", "10", "a.MKV", "b.mp4"]
    said = console.export_text()
    assert "2 video(s) in subfolders of" in said and "add --recursive" in said
    deep = find_videos(top, recursive=True, output=top / "out")
    assert [deep.label(p) for p in deep.videos] == ["2", "10", "a.MKV", "b.mp4", "cam1/2026-12-01/0101.mp4",
                                                    "cam2/0101.mp4"]
    assert "locked: cannot be read (Permission denied); its videos are left out" in caplog.text
    alone = find_videos(top / "2")  # a folder of frames given is one video
    assert alone.videos == [top / "2"] and alone.label(top / "2") == "2"
    with pytest.raises(UsageError, match="1 in its subfolders: add --recursive"):
        find_videos(top / "cam1")
    manifest = tmp_path / "list.txt"
    manifest.write_text("export/10\nexport/cam2/0101.mp4\n")
    assert find_videos(manifest).videos == [(top / "10").resolve(), (top / "cam2" / "0101.mp4").resolve()]
    with pytest.raises(UsageError, match="a manifest names each of its videos"):
        find_videos(manifest, recursive=True)
    with pytest.raises(UsageError, match="it holds one image, and a video's frames are two or more"):
        find_videos(top / "snapshot")
    manifest.write_text("export/snapshot\n")
    with pytest.raises(UsageError, match="no such video or folder of frames"):
        find_videos(manifest)


def test_the_index_ranks_the_most_anomalous_first_and_an_older_index_gains_the_peak_score(tmp_path):
    """Highest severity first, then highest peak score (a batch no model explained is ranked too), failures
    last; an index written before the peak score was kept opens with the column added, its rows kept."""
    from vadagent.app.report_html import write_index_html
    from vadagent.tools.index import ReportIndex

    path = tmp_path / "index.sqlite"
    with sqlite3.connect(path) as db:  # release 41's table
        db.execute("create table videos (source text primary key, status text not null check (status in ('pending', "
                   "'running', 'explained', 'detected', 'failed')), report text, candidates integer, events integer, "
                   "confirmed integer, max_severity integer, error text, started_at real, finished_at real)")
        db.execute("insert into videos (source, status, report, candidates, events, confirmed) "
                   "values ('old.mp4', 'detected', 'old/report.json', 2, 0, 0)")
    index = ReportIndex(path)
    for name, severity, peak in (("calm.mp4", None, 3.1), ("fight.mp4", 3, 9.0), ("crowd.mp4", None, 12.5),
                                 ("fall.mp4", 3, 20.0)):
        index.start(name)
        index.finish(name, f"{name[:-4]}/report.json", explained=severity is not None, candidates=1,
                     events=int(severity is not None), confirmed=0, max_severity=severity, peak_score=peak)
    index.start("broken.mp4")
    index.fail("broken.mp4", "not a readable video")
    rows = index.rows()
    index.close()
    assert {r.source: r.peak_score for r in rows} == {"old.mp4": None, "calm.mp4": 3.1, "fight.mp4": 9.0,
                                                      "crowd.mp4": 12.5, "fall.mp4": 20.0, "broken.mp4": None}
    page = write_index_html(tmp_path / "index.html", rows).read_text()
    order = [page.index(f"<td>{name}</td>") for name in ("fall.mp4", "fight.mp4", "crowd.mp4", "calm.mp4")]
    assert order == sorted(order) and page.index("<td>calm.mp4</td>") < page.index("<td>broken.mp4</td>")


def test_the_batch_lists_its_events_most_severe_first_and_a_rerun_replaces_a_video_s_events(tmp_path):
    """Events across videos: the most severe first, those the model judged normal last; a video's rerun replaces its
    events; a failed video's are not listed; an index from before events were kept has them read from its reports
    (a report that cannot be read costs its events, not the list)."""
    from vadagent.app.batch import write_index
    from vadagent.taxonomy import load_taxonomy
    from vadagent.tools.index import ReportIndex
    from vadagent.types import AnomalyEvent, ScorerSummary, VideoInfo

    def event(id_, severity, verdict="confirmed", confidence=0.8):
        return AnomalyEvent(id=id_, start_s=1.0, end_s=2.0, category="motion", label=f"label {id_}", what="w",
                            cause="c", effect="e", severity=severity, confidence=confidence, verdict=verdict)

    index = ReportIndex(tmp_path / "index.sqlite")
    for name, events in (("a.mp4", [event("e1", 2), event("e2", 4, "rejected")]),
                         ("b.mp4", [event("e1", 3, confidence=0.5), event("e2", 3, confidence=0.9)]),
                         ("c.mp4", [event("e1", 4)])):
        index.start(name)
        index.record_events(name, events)
        index.finish(name, f"{name[0]}/report.json", explained=True, candidates=2, events=len(events), confirmed=1,
                     max_severity=max(e.severity for e in events))
    index.start("c.mp4")  # c's rerun fails: its old events are not listed
    index.fail("c.mp4", "not a readable video")
    index.record_events("a.mp4", [event("e1", 1), event("e2", 4, "rejected")])  # a's rerun: its events replaced
    assert [(e.source, e.id, e.severity) for e in index.events()] == [
        ("b.mp4", "e2", 3), ("b.mp4", "e1", 3), ("a.mp4", "e1", 1), ("a.mp4", "e2", 4)]

    # a video finished before the index kept events: read from its report in the batch's folder
    index.start("d.mp4")
    index.finish("d.mp4", str(tmp_path / "d" / "report.json"), explained=True, candidates=1, events=1, confirmed=1,
                 max_severity=2)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "report.json").write_text(VideoReport(
        video=VideoInfo(path="d.mp4", fps=25, frame_count=250, width=320, height=240),
        scorer=ScorerSummary(scorer_id="motion", fps=25), events=[event("e9", 2)],
        taxonomy=load_taxonomy("generic")).model_dump_json())
    index.start("e.mp4")  # and one whose report is not a report any more: listed without its events
    index.finish("e.mp4", str(tmp_path / "e" / "report.json"), explained=True, candidates=1, events=1, confirmed=1,
                 max_severity=2)
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "report.json").write_text("{}")
    rows, events = write_index(tmp_path, index)
    index.close()
    assert len(rows) == 5 and [e.id for e in events if e.source == "d.mp4"] == ["e9"]
    assert not [e for e in events if e.source == "e.mp4"]
    listed = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [(e["source"], e["id"]) for e in listed] == [(e.source, e.id) for e in events]
    page = (tmp_path / "index.html").read_text()
    assert page.index('href="b/report.html#e2"') < page.index('href="b/report.html#e1"') < page.index('href="a/report.html#e2"')
    assert "and 1 the model judged normal" in page and "c/report.html#" not in page
