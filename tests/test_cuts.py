"""An edited video's cuts: found on real frames, its shots each scored by a stand-in of its own, said in its report."""

from __future__ import annotations

import json

import av
import numpy as np

from vadagent.agents.explain.detection import _candidate_notes
from vadagent.app.detecting import opening_note
from vadagent.samples import sample_clip
from vadagent.tools.scorer import Scorer, ScoreResult, SourceSpec, cuts
from vadagent.tools.scorer.cuts import CutFinder
from vadagent.tools.scorer.frames import working_size
from vadagent.tools.scorer.output import write_scores
from vadagent.tools.scorer.tiers import Evidence
from vadagent.tools.video import open_video
from vadagent.types import VideoInfo


def _frames(path, start_s: float = 0.0, end_s: float | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    with open_video(path) as video:
        batches = list(video.scan(gray=True, chunk=64, start_s=start_s, end_s=end_s,
                                  size=working_size(video.info.width, video.info.height)))
    return np.concatenate([b.indices for b in batches]), [f for b in batches for f in b.frames]


def _written(path, frames: list[np.ndarray]):
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.height, stream.width = frames[0].shape
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.dstack([frame] * 3), format="rgb24")))
        out.mux(stream.encode())
    return path


def test_a_real_clips_cuts_from_camera_to_camera_are_found_and_a_shots_own_motion_is_not(robbery):
    """robbery.mp4 cuts from the door's camera to a corridor's at frame 819 (30.3 s); the bundled footpath's walkers,
    fast object and loiterer are one shot, and stay one across a fade through black."""
    indices, frames = _frames(robbery, 29.0, 32.0)
    assert CutFinder().feed(indices, frames) == (819,)
    indices, frames = _frames(sample_clip())
    finder = CutFinder()
    assert [cut for start in range(0, len(frames), 64)
            for cut in finder.feed(indices[start:start + 64], frames[start:start + 64])] == []
    # through black: no cut where the same view comes back (a recording's jump in time), one where another does
    black = [np.zeros_like(frames[0])] * 5
    for after, found in ((frames[600:610], ()), ([frame[::-1] for frame in frames[600:610]], (15,))):
        shown = frames[:10] + black + after
        assert CutFinder().feed(np.arange(len(shown)), shown) == found
    assert cuts.said([819, 820, 840, 1365], 27.0) == [819 / 27.0, 1365 / 27.0]  # within a second: one cut said


def test_an_edited_video_without_normal_footage_is_scored_shot_by_shot_and_says_where_it_cuts(tmp_path, monkeypatch):
    """The footpath for 12 s, then a cut to it upside down (another layout) for 10 s. Each shot is scored by a
    stand-in fitted on its own opening, as it would be alone; the cut kept in scores.json and a saved result, said in
    the report's notes. One stand-in for the whole video flags every frame of the second shot for its view."""
    _, frames = _frames(sample_clip(), 0.0, 12.0)
    cut = len(frames)
    second = [frame[::-1] for frame in frames[:250]]
    edited = _written(tmp_path / "edited.mp4", frames + second)
    stages: dict[str, tuple[int, int]] = {}
    scorer = Scorer.fit_on_opening(str(edited), progress=lambda stage, done, total: stages.update({stage: (done, total)}))
    assert stages["looking for cuts"] == (cut + 250, cut + 250) and any("the shot from 12.0 s" in s for s in stages)
    assert [start for start, _, _ in scorer.shots] == [cut] and scorer.fit_info["shots"] == [[cut, cut + 250]]
    assert scorer.shots[0][2].fit_info["sources"][0]["start_s"] == cut / 25
    assert "each shot's scorer was fitted on that shot's own first quarter" in opening_note(scorer)
    assert "(each shot's first quarter was scored by a second scorer" in opening_note(scorer)
    opened = scorer.shots[0][2].fit_info.pop("opening_scored_by")  # as where a shot's closing stretch cannot be fitted
    assert "(the first quarter of 1 of its 2 shots was scored by a second scorer fitted on that shot's last quarter)" \
        in opening_note(scorer)
    scorer.shots[0][2].fit_info["opening_scored_by"] = opened
    read, score = [], Scorer._score  # each pass's first frame and frames, to see the second shot read once

    def reading(self, video, *args, start_s: float = 0.0, **kwargs):
        scored = score(self, video, *args, start_s=start_s, **kwargs)
        read.append((round(start_s * 25), len(scored.scores)))
        return scored

    monkeypatch.setattr(Scorer, "_score", reading)
    stages.clear()
    result = scorer.score(edited, progress=lambda stage, done, total: stages.update({stage: (done, total)}))
    assert result.stand_in and result.cuts == [cut] and result.shots == [cut]
    assert read[0] == (0, cut) and (cut, cut + 250) in read and stages["scoring"] == (cut + 250, cut + 250)
    in_turn = next(scorer.score_each([edited]))  # reads the whole video in one pass, then drops the second shot's
    assert in_turn.cuts == result.cuts and in_turn.shots == result.shots
    assert np.allclose(in_turn.scores, result.scores, rtol=0, atol=1e-4)
    note = next(n for n in _candidate_notes(result, result.candidates()) if cuts.WORDS in n)
    assert note.startswith("At 12.0 s") and "Each shot from 12.0 s on" in note
    write_scores(tmp_path / "out", result, 0.0, result.candidates())
    assert json.loads((tmp_path / "out" / "scores.json").read_text())["cuts"] == [cut]
    saved = ScoreResult.load(result.save(tmp_path / "saved"))
    assert saved.cuts == [cut] and saved.shots == [cut]
    # the second shot scored as the same frames are alone (measured: correlation 0.97; 50 % and 53 % of frames over
    # the threshold, the stand-in's 2.5 s knowing little of the walkers to come)
    alone_file = _written(tmp_path / "alone.mp4", second)
    alone = Scorer.fit_on_opening(str(alone_file)).score(alone_file)
    assert np.corrcoef(result.scores[cut:], alone.scores)[0, 1] >= 0.9
    flagged, flagged_alone = ((r.scores >= r.threshold)[-250:].mean() for r in (result, alone))
    assert abs(flagged - flagged_alone) <= 0.1
    # one stand-in for the whole video, as before: the second shot compared with the first's view
    monkeypatch.setattr(cuts, "shots_of", lambda video, fps, size, progress=None: [(0, cut + 250)])
    whole = Scorer.fit_on_opening(str(edited))
    against_first = whole.score(edited)
    assert not whole.shots and against_first.cuts == [cut] and against_first.shots == []
    assert (against_first.scores >= against_first.threshold)[cut:].mean() >= max(0.9, flagged + 0.3)
    assert "compares that view with the opening's" in \
        next(n for n in _candidate_notes(against_first, []) if cuts.WORDS in n)


def test_looking_for_cuts_changes_no_score_and_normal_footage_judges_the_view_instead(tmp_path, monkeypatch):
    _, frames = _frames(sample_clip(), 0.0, 12.0)
    edited = _written(tmp_path / "edited.mp4", frames + [frame[::-1] for frame in frames[:100]])
    with_footage = Scorer.fit([SourceSpec(str(sample_clip()), 0.0, 12.0)])
    assert with_footage.view is not None and with_footage.score(edited).cuts == []
    with_footage.view = None  # as a scorer saved before views were kept: cuts are looked for
    looked = with_footage.score(edited)
    timing = Scorer._timing
    monkeypatch.setattr(Scorer, "_timing", lambda self, video: {**timing(self, video), "find_cuts": False})
    unlooked = with_footage.score(edited)
    assert looked.cuts == [len(frames)] and unlooked.cuts == []
    # the same scores: OpenCV's own threads leave the motion tier's last bit to chance (7e-7 of 214, ad hoc)
    assert np.allclose(looked.scores, unlooked.scores, rtol=0, atol=1e-4)


def test_a_shot_read_on_by_another_scorer_brings_what_it_read_of_its_frames():
    """`until` and `then`, as an edited video's shots are joined: each frame's scores, evidence, picture, damage and
    cuts from the pass that read it."""
    def read(n: int, level: float, picture, damaged, cuts) -> ScoreResult:
        evidence = Evidence(np.arange(n), np.full((n, 4), level), *(np.full(n, level) for _ in range(3)),
                            np.full(n, f"by {level}", dtype=object))
        return ScoreResult(VideoInfo(path="v.mp4", fps=25.0, frame_count=100, width=64, height=48), "s",
                           np.full(n, level), 3.0, evidence, 1, 2.0, {"motion": np.full(n, level)},
                           picture=picture, damaged=damaged, cuts=cuts)

    whole = read(100, 1.0, [(10, "darker"), (70, "")], [(50, 52), (80, 81)], [20, 60])
    first = whole.until(60)
    assert len(first.scores) == len(first.evidence.note) == len(first.tier_scores["motion"]) == 60
    assert first.picture == [(10, "darker")] and first.damaged == [(50, 52)] and first.cuts == [20]
    shot = read(100, 2.0, [(0, "rain"), (90, "")], [(58, 61), (95, 96)], [75])  # read from frame 55 on
    joined = first.then(shot)
    assert joined.scores.tolist() == [1.0] * 60 + [2.0] * 40 and joined.tier_scores["motion"][59:61].tolist() == [1, 2]
    assert joined.evidence.note[59] == "by 1.0" and joined.evidence.note[60] == "by 2.0"
    assert joined.evidence.frame.tolist() == list(range(100)) and joined.evidence.box[60].tolist() == [2.0] * 4
    assert joined.picture == [(10, "darker"), (60, "rain"), (90, "")]
    assert joined.damaged == [(50, 52), (60, 61), (95, 96)] and joined.cuts == [20, 75]
    assert joined.skipped == 2 and joined.seconds == 4.0
    assert whole.until(100) is whole and read(60, 1.0, [], [], []).then(shot).picture == [(60, "rain"), (90, "")]
    opening = whole.spliced(shot, 0, 10)  # an opening scored by another scorer: a new result, `whole` as it was
    assert opening.evidence.note[9] == "by 2.0" and whole.evidence.note[9] == "by 1.0" and whole.evidence.box[9, 0] == 1.0


def test_a_static_shot_that_cannot_be_fitted_is_read_on_by_the_shot_before_it(tmp_path):
    """The footpath, the footpath upside down, then a still (a screenshot): no stand-in can be fitted on the still,
    so the second shot's reads on through it, and every frame of the video is scored."""
    _, frames = _frames(sample_clip(), 0.0, 12.0)
    cut = len(frames)
    still = np.full_like(frames[0], 90) + (np.arange(frames[0].shape[1]) % 64).astype(np.uint8)[None, :]
    edited = _written(tmp_path / "edited.mp4", frames + [frame[::-1] for frame in frames[:250]] + [still] * 250)
    scorer = Scorer.fit_on_opening(str(edited))
    assert scorer.fit_info["shots"] == [[cut, cut + 500]]
    result = scorer.score(edited)
    assert len(result.scores) == cut + 500 and np.isfinite(result.scores).all()
    assert result.cuts == [cut, cut + 250] and result.shots == [cut]
