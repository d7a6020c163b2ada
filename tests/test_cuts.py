"""An edited video's cuts: found on real frames, kept with its scores, said in its report; the scores the tiers'."""

from __future__ import annotations

import json

import av
import numpy as np

from vadagent.agents.explain.detection import _candidate_notes
from vadagent.samples import sample_clip
from vadagent.tools.scorer import Scorer, ScoreResult, SourceSpec, cuts
from vadagent.tools.scorer.cuts import CutFinder
from vadagent.tools.scorer.output import write_scores
from vadagent.tools.video import open_video


def _frames(path, start_s: float = 0.0, end_s: float | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    with open_video(path) as video:
        batches = list(video.scan(gray=True, chunk=64, start_s=start_s, end_s=end_s, size=(360, 240)))
    return np.concatenate([b.indices for b in batches]), [f for b in batches for f in b.frames]


def test_a_real_clips_cuts_from_camera_to_camera_are_found_and_a_shots_own_motion_is_not(robbery):
    """robbery.mp4 cuts from the door's camera to a corridor's at frame 819 (30.3 s); the bundled footpath's walkers,
    fast object and loiterer are one shot."""
    indices, frames = _frames(robbery, 29.0, 32.0)
    assert CutFinder().feed(indices, frames) == (819,)
    indices, frames = _frames(sample_clip())
    finder = CutFinder()
    assert [cut for start in range(0, len(frames), 64)
            for cut in finder.feed(indices[start:start + 64], frames[start:start + 64])] == []
    assert cuts.said([819, 820, 840, 1365], 27.0) == [819 / 27.0, 1365 / 27.0]  # within a second: one cut said


def test_an_edited_video_without_normal_footage_says_where_it_cuts_and_its_scores_are_the_tiers(tmp_path, monkeypatch):
    """The footpath for 12 s, then a cut to it upside down (another layout) for 8 s: one cut, at frame 300; kept in
    scores.json and a saved result, said in the report's notes; a scorer with normal footage judges the view instead."""
    indices, frames = _frames(sample_clip(), 0.0, 12.0)
    edited = tmp_path / "edited.mp4"
    with av.open(str(edited), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 360, 240, "yuv420p"
        for frame in [*frames, *(f[::-1] for f in frames[:200])]:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.dstack([frame] * 3), format="rgb24")))
        out.mux(stream.encode())
    scorer = Scorer.fit_on_opening(str(edited))
    result = scorer.score(edited)
    assert result.stand_in and result.cuts == [300]
    note = next(n for n in _candidate_notes(result, result.candidates()) if cuts.WORDS in n)
    assert note.startswith("At 12.0 s") and "view of the video's opening" in note
    write_scores(tmp_path / "out", result, 0.0, result.candidates())
    assert json.loads((tmp_path / "out" / "scores.json").read_text())["cuts"] == [300]
    assert ScoreResult.load(result.save(tmp_path / "saved")).cuts == [300]
    # the scores are the tiers': not looking for cuts gives the same to the bit
    timing = Scorer._timing
    monkeypatch.setattr(Scorer, "_timing", lambda self, video: {**timing(self, video), "find_cuts": False})
    unlooked = scorer.score(edited)
    assert unlooked.cuts == [] and np.array_equal(unlooked.scores, result.scores)
    monkeypatch.undo()
    # with normal footage the view is judged against the footage's (view.py), and cuts are not looked for
    with_footage = Scorer.fit([SourceSpec(str(sample_clip()), 0.0, 12.0)])
    assert with_footage.view is not None and with_footage.score(edited).cuts == []
