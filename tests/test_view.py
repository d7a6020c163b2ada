"""A camera's view judged against its normal footage's (view.py): covered or turned away, knocked and put back,
shaken by the wind or crossed by a crowd (neither a lost view), and a covered camera as one candidate, said in its
report and live."""

import copy
import json

import cv2
import numpy as np
import pytest

from vadagent.tools.scorer import Scorer
from vadagent.tools.synthetic import write_video


def test_a_view_is_told_lost_when_covered_or_away_a_move_put_back_and_light_shake_or_a_crowd_left_alone():
    """Against a scene's footage (its frames with walkers and grain), the scene darker, brighter on one half, in haze,
    shaken by 2 px or half hidden by a crowd shows the site; covered (a dim, flat picture) it is blank, put out of
    focus soft, another scene is away; turned by 2° and moved by 10 px, or zoomed, its frames are put back on the
    footage's view by that move (from its first frame where it is so from the start). A view lost for under a second is
    not said; a move is said from the frame it was first seen, and the second after it is known is flagged; the camera
    back where it was, the frames are read as they come again."""
    from vadagent.tools.scorer import view

    rng = np.random.default_rng(0)

    def scene() -> np.ndarray:
        picture = cv2.GaussianBlur(rng.uniform(0, 255, (240, 320)).astype(np.float32), (0, 0), 6)
        return cv2.normalize(picture, None, 20, 230, cv2.NORM_MINMAX)

    def frame(picture: np.ndarray, walkers: int = 3) -> np.ndarray:
        out = picture.copy()
        for x, y in rng.integers(0, (280, 180), (walkers, 2)):
            out[y : y + 50, x : x + 20] = rng.uniform(60, 200)
        return np.clip(out + rng.normal(0, 2, out.shape), 0, 255).astype(np.uint8)

    def watched(pictures: list[np.ndarray], walkers: int = 3, blurred_from: int | None = None
                ) -> tuple[view.ViewWatch, dict[int, str]]:
        watch, flagged = view.ViewWatch(footage, fps=25.0), {}
        for start in range(0, len(pictures), 16):
            indices = np.arange(start, min(start + 16, len(pictures)))
            frames = [frame(pictures[i], walkers) for i in indices]
            if blurred_from is not None:  # a lens out of focus: the whole frame, its grain too
                frames = [cv2.GaussianBlur(f, (0, 0), 2.5) if i >= blurred_from else f for i, f in zip(indices, frames)]
            _, seen = watch.feed(indices, frames)
            flagged |= seen.flagged
        return watch, flagged

    site = scene()
    footage = view.FootageView.of(np.stack([frame(site) for _ in range(40)]))
    assert 0.5 < footage.least < 1.0
    lit = site.copy()
    lit[:, 160:] += 50
    crowd = site.copy()
    crowd[120:] = cv2.GaussianBlur(rng.uniform(60, 200, (120, 320)).astype(np.float32), (0, 0), 2)  # half hidden
    shaken = [np.roll(site, tuple(rng.integers(-2, 3, 2)), (0, 1)) for _ in range(75)]
    for same in ([site] * 75, [0.45 * site] * 75, [lit] * 75, [0.4 * site + 140] * 75, shaken, [crowd] * 75):
        watch, _ = watched(same)
        assert watch.changes == [] and watch.warp is None
    assert watched([0.05 * site + 20] * 75, walkers=0)[0].changes == [(0, view.BLANK_WORDS)]
    # put out of focus: said from the frame it was first seen, its second after flagged; soft from the first frame (as
    # a lower-quality stream is), not said here
    watch, flagged = watched([site] * 125, blurred_from=48)
    assert watch.changes == [(48, view.SOFT_WORDS)] and len(flagged) == 25 and 48 < min(flagged) <= 80
    assert watched([site] * 75, blurred_from=0)[0].changes == []
    assert watched([scene()] * 75)[0].changes == [(0, view.AWAY_WORDS)]
    move = cv2.getRotationMatrix2D((160, 120), 2.0, 1.0) + [[0, 0, 10], [0, 0, 6]]
    turned = cv2.warpAffine(site, move, (320, 240), borderMode=cv2.BORDER_REFLECT)
    watch, flagged = watched([turned] * 75)
    assert [c[0] for c in watch.changes] == [0] and watch.changes[0][1].startswith("the camera moved")
    assert np.abs(watch.warp - move).max() < 1.0 and not flagged  # the move, from the footage to the video
    assert footage.agreement(footage.registered(frame(turned), watch.warp)) > 0.9 * footage.least
    _, seen = view.ViewWatch(footage, fps=25.0).feed(np.arange(16), [frame(turned) for _ in range(16)])
    assert [(first, warp is None) for first, warp in seen.moves] == [(0, False)]  # put back from its first frame
    watch, flagged = watched([site] * 50 + [turned] * 20 + [site] * 50 + [turned] * 60 + [site] * 60, walkers=1)
    assert [c[0] for c in watch.changes] == [120, 180] and watch.changes[1][1] == "" and watch.warp is None
    first = min(flagged)
    assert 120 < first <= 152 and sorted(flagged) == list(range(first, first + 25))
    # a PTZ camera's lens drawn in (and turned a little) or out: a turn alone does not put it back; a zoom does
    for factor, said in ((1.05, "zoomed in 1.05×"), (0.9, "zoomed out 0.90×")):
        zoom = cv2.getRotationMatrix2D((160, 120), 1.0, factor) + [[0, 0, 4], [0, 0, 2]]
        zoomed = cv2.warpAffine(site, zoom, (320, 240), borderMode=cv2.BORDER_REFLECT)
        for before in (0, 48):  # from the video's first frame, and from frame 48
            watch, _ = watched([site] * before + [zoomed] * 75, walkers=1)
            assert [c[0] for c in watch.changes] == [before] and said in watch.changes[0][1]
            assert np.abs(watch.warp[:, :2] - zoom[:, :2]).max() < 0.01 and np.abs(watch.warp[:, 2] - zoom[:, 2]).max() < 1.5


def test_a_knocked_camera_is_put_back_on_its_footages_view_and_its_boxes_into_its_own_frame(fitted, synthetic_normal,
                                                                                          tmp_path):
    """The footpath knocked by 2° and 8 px at 4 s: as it comes, every frame after flagged; put back on the footage's
    view from the frame after the move is found, its second after flagged (the knock, one candidate) and under a
    twentieth of the rest. Evidence found on frames put back lies where it is in the video's own frames."""
    from vadagent.tools.scorer import view
    from vadagent.tools.video import open_video

    with open_video(str(synthetic_normal)) as video:
        frames = np.concatenate([b.frames for b in video.scan(gray=False)])[:300]
    height, width = frames.shape[1:3]
    move = cv2.getRotationMatrix2D((width / 2, height / 2), 2.0, 1.0) + [[0, 0, 8], [0, 0, 5]]
    knocked = np.concatenate([frames[:100], [cv2.warpAffine(f, move, (width, height), borderMode=cv2.BORDER_REFLECT)
                                             for f in frames[100:]]])
    write_video(tmp_path / "knocked.mp4", knocked, 25.0)
    result = fitted.score(tmp_path / "knocked.mp4")
    above = result.scores > result.threshold
    assert [first for first, _ in result.picture] == [100] and result.picture[0][1].startswith(view.MOVED_WORDS)
    flagged = np.flatnonzero(result.evidence.note == result.picture[0][1])
    assert len(flagged) == 25 and 100 < flagged[0] <= 132 and above[flagged].all()
    assert above[flagged[-1] + 1 :].mean() < 0.05
    unjudged = copy.copy(fitted)
    unjudged.view = None
    as_it_comes = unjudged.score(tmp_path / "knocked.mp4")
    assert (as_it_comes.scores[flagged[-1] + 1 :] > as_it_comes.threshold).mean() > 0.5
    shift = np.float32([[1, 0, 5], [0, 1, 3]])
    assert view.boxes_moved(np.array([[10, 20, 30, 60], [0, 0, 0, 0]]), shift).tolist() == [[15, 23, 35, 63], [0, 0, 0, 0]]


def test_a_covered_camera_is_one_candidate_said_in_its_report_and_live(fitted, synthetic_anomalous, tmp_path):
    """The footpath covered from 4 s to 8 s (a dim, flat picture): its view reported lost from 4 s and back from 8 s,
    in the scores' picture, the report's notes and the relations its candidate's VLM call is given; a second of
    frames flagged once it is known, with evidence that points at the whole picture and says why, as the live scorer
    gives them; every other frame scored as the tiers give it. A scorer saved and loaded keeps its footage's view;
    without one (saved before views were kept), none is judged."""
    from vadagent.agents.explain.context import view_relations
    from vadagent.agents.explain.detection import detect_video
    from vadagent.taxonomy import load_taxonomy
    from vadagent.tools.scorer import view
    from vadagent.tools.scorer.live import LiveScorer
    from vadagent.tools.video import open_video

    path, _ = synthetic_anomalous
    with open_video(str(path)) as video:
        frames = np.concatenate([b.frames for b in video.scan(gray=False)])[:300]
    covered = frames.copy()
    covered[100:200] = (0.05 * covered[100:200] + 20).astype(np.uint8)
    write_video(tmp_path / "covered.mp4", covered, 25.0)
    result = fitted.score(tmp_path / "covered.mp4")
    assert result.picture == [(100, view.BLANK_WORDS), (200, "")]
    known = [f for f in range(100, 200) if result.evidence.note[f] == view.BLANK_WORDS]
    assert len(known) == 25 and known[0] <= 128 and (result.scores[known] >= result.threshold + view.LIFT).all()
    assert tuple(result.evidence.box[known[0]]) == (0, 0, result.info.width, result.info.height)
    # its candidate says where and why: the whole picture, blank (not the ninth of an object the tiers peaked on)
    candidate = next(c for c in result.candidates() if c.start_s <= known[0] / 25 <= c.end_s)
    assert candidate.region.place == "whole" and candidate.region.why == view.BLANK_WORDS
    unjudged = copy.copy(fitted)
    unjudged.view = None
    as_the_tiers_give = unjudged.score(tmp_path / "covered.mp4").scores
    others = np.setdiff1d(np.arange(len(covered)), known)
    assert np.allclose(result.scores[others], as_the_tiers_give[others], atol=1e-4)
    report = detect_video(str(tmp_path / "covered.mp4"), fitted, load_taxonomy("generic"), None).report
    assert any("from 4.0 s, the picture shows next to nothing" in note and "from 8.0 s, as it came" in note
               for note in report.notes)
    # the relations the explain graph gives the VLM for a window say what was measured
    said = view_relations(result.evidence, 25.0, 0.0, 12.0)
    assert [(r.object, r.start_s, r.end_s) for r in said] == [(view.BLANK_WORDS, known[0] / 25, known[-1] / 25)]
    live = LiveScorer(fitted, fps=25.0)
    scored = [s for i, f in enumerate(covered[:160]) for s in live.feed(i, f)]
    assert [s.index for s in scored if s.note == view.BLANK_WORDS] == known
    assert live.reading == view.BLANK_WORDS
    fitted.save(tmp_path / "scorer")
    loaded = Scorer.load(tmp_path / "scorer")
    assert np.allclose(loaded.view.structure, fitted.view.structure, atol=1e-5) and loaded.view.least == pytest.approx(
        fitted.view.least, abs=1e-4)
    (tmp_path / "scorer" / "scorer.json").write_text(
        (tmp_path / "scorer" / "scorer.json").read_text().replace('"view": {', '"view_": {'))
    assert Scorer.load(tmp_path / "scorer").view is None


def test_a_video_of_another_camera_is_said_to_be_scored_against_another_scene(synthetic_scorer, ped2, tmp_path):
    """A scorer fitted on one camera, given another's clip (Ped2's walkway for the footpath's scorer): its view is not
    the footage's from its first frame to its last, and `score` says what that means and what to do (a video of the
    site itself says nothing of it: test_cli_scoring.py)."""
    from inprocess import invoke

    other = invoke("score", ped2 / "testing" / "frames" / "01", "--fps", "10", "--scorer", synthetic_scorer,
                   "-o", tmp_path / "other")
    said = other.stderr.replace("\n", " ")
    assert other.returncode == 0 and "01: its view was not the normal footage's from its first frame to its last: " \
        "another camera than the scorer's? Fit a scorer on this camera's own normal footage" in said
    # a batch says it too, and its index keeps it (read later than the terminal)
    batch = invoke("report", ped2 / "testing" / "frames" / "01", "--fps", "10", "--scorer", synthetic_scorer,
                   "--vlm", "hf:nobody/no-such-vlm", "-o", tmp_path / "batch")
    assert batch.returncode == 3 and "another camera than the scorer's?" in batch.stderr.replace("\n", " ")
    row = json.loads((tmp_path / "batch" / "index.json").read_text())[0]
    assert row["status"] == "detected" and "another camera than the scorer's?" in row["error"]
