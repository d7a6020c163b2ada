"""The frame pass every tier reads: chunks made ahead, optical flow and its presets, frames put in the fitted
rate's intervals by their timestamps, and the grain measured where it is compared. The scorer: test_scorer.py."""

import numpy as np
import pytest

from vadagent.tools.synthetic import write_video


def test_frames_are_made_ahead_in_order_errors_reach_the_reader_and_an_early_stop_ends_the_worker():
    import threading

    from vadagent.tools.scorer.prefetch import ahead

    assert list(ahead(iter(range(50)), depth=2)) == list(range(50))

    def broken():
        yield 1
        raise ValueError("corrupt frame")

    with pytest.raises(ValueError, match="corrupt frame"):
        list(ahead(broken()))

    closed = threading.Event()

    def endless():
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    stream = ahead(endless())
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()  # the reader stops early: the worker stops and the source is closed
    assert closed.is_set() and not any(t.name == "vadagent-frames" for t in threading.enumerate())


def test_flow_split_over_threads_equals_one_estimator_in_order(synthetic_anomalous, monkeypatch):
    from vadagent.tools.scorer import frames as frames_module
    from vadagent.tools.scorer.frames import DEFAULT_FLOW, flow_estimator, flows_of
    from vadagent.tools.video import open_video

    with open_video(str(synthetic_anomalous[0])) as video:
        gray = np.concatenate([b.frames for b in video.scan(gray=True)])[:40]
    pairs = list(zip(gray[:-1], gray[1:]))
    one = flow_estimator(DEFAULT_FLOW)
    expected = [one.calc(a, b, None) for a, b in pairs]
    monkeypatch.setattr(frames_module, "FLOW_THREADS", 3)  # more threads than this machine may have
    split = flows_of(DEFAULT_FLOW, pairs)
    assert len(split) == len(expected)
    assert max(float(np.abs(a - b).max()) for a, b in zip(split, expected)) < 1e-4  # same flow, same order


def _square_moving(count: int, step: float = 2.0) -> np.ndarray:
    """A textured square crossing a still textured background at `step` px per frame (RGB)."""
    from vadagent.tools.synthetic import textured_square

    return textured_square(20 + step * i for i in range(count))


def _square_speed(chunk) -> np.ndarray:
    """Median horizontal flow inside the square's band (rows 52 to 68 at the working size), per frame."""
    from vadagent.tools.scorer.frames import FLOW_STEP

    band = chunk.flow[:, 52 // FLOW_STEP : 68 // FLOW_STEP, :, 0]
    return np.median(band.reshape(len(chunk.flow), -1), axis=1)


@pytest.mark.parametrize("preset", ["coarse", "quick", "half", "fine", "finest"])
def test_each_flow_preset_reads_the_speed_of_a_known_motion(preset):
    from vadagent.tools.scorer.frames import FLOW_PRESETS, FLOW_STEP, ChunkMaker

    assert preset in FLOW_PRESETS
    frames = _square_moving(12)[..., 0]  # 2 px per frame rightwards
    chunk = ChunkMaker(160, 120, flow=preset).feed(np.arange(12), frames)
    # the square's middle 12 px (its left edge is at 20 + 2i, its top at 48), in flow pixels
    rows = slice(54 // FLOW_STEP, 66 // FLOW_STEP)
    inside = [np.median(chunk.flow[i, rows, (26 + 2 * i) // FLOW_STEP : (38 + 2 * i) // FLOW_STEP, 0]) for i in range(1, 12)]
    # coarse estimates on a quarter-resolution grid, which a 24 px square barely covers (measured 1.3 to 1.6)
    assert np.median(inside) == pytest.approx(2.0, rel=0.35 if preset == "coarse" else 0.12)


def test_dropped_frames_are_put_back_in_fitted_intervals_by_their_timestamps(tmp_path):
    from vadagent.tools.scorer.frames import chunks
    from vadagent.tools.video import open_video

    frames = _square_moving(40)
    kept = np.array([n for n in range(40) if n not in (20, 21)])  # two frames lost before frame 22
    write_video(tmp_path / "dropped.mp4", frames[kept], 25.0, kept)

    def speeds(fitted_fps):
        with open_video(str(tmp_path / "dropped.mp4")) as video:
            made = list(chunks(video, 160, 120, chunk=64, time_scale=1.0, fitted_fps=fitted_fps))
        return np.concatenate([_square_speed(c) for c in made]), np.concatenate([c.diff.mean((1, 2)) for c in made])

    by_time, diff_by_time = speeds(25.0)
    per_frame, diff_per_frame = speeds(None)  # no fitted rate: frames compared as they come
    late = int(np.flatnonzero(kept == 22)[0])
    regular = [i for i in range(5, 30) if i != late]
    # as they come, the square seems to jump three frames' worth across the gap
    assert per_frame[late] == pytest.approx(3 * np.median(per_frame[regular]), rel=0.2)
    # by the timestamps it moves as fast as in the regular frames, which keep their exact scores
    assert by_time[late] == pytest.approx(np.median(by_time[regular]), rel=0.2)
    assert np.array_equal(by_time[regular], per_frame[regular])
    assert diff_by_time[late] < 0.5 * diff_per_frame[late]


def test_regular_timestamps_score_exactly_as_the_declared_rate():
    from vadagent.tools.scorer.frames import ChunkMaker

    frames = _square_moving(12)[..., 0]
    times = np.arange(12) / 12.5  # half the fitted rate: the declared-rate scaling, exactly
    a = ChunkMaker(160, 120, time_scale=0.5, fitted_fps=25.0).feed(np.arange(12), frames, times)
    b = ChunkMaker(160, 120, time_scale=0.5).feed(np.arange(12), frames)
    assert np.array_equal(a.flow, b.flow) and np.array_equal(a.diff, b.diff)


def test_self_validations_windows_read_as_measured_without_measuring_their_grain():
    """Without a footage's grain to compare with, a video's own grain changes nothing of what is read, so the
    windows of self-validation (chunks_of_frames) skip measuring it; a maker given the footage's grain must measure."""
    from vadagent.tools.scorer.frames import ChunkMaker, chunks_of_frames

    frames = _square_moving(32)[..., 0]
    measured = ChunkMaker(160, 120).feed(np.arange(32), frames)
    (window,) = chunks_of_frames(frames)
    assert measured.grain.told and not window.grain.told
    for name in ("indices", "gray", "diff", "flow", "shake"):
        assert np.array_equal(getattr(window, name), getattr(measured, name)), name
    assert window.reading == measured.reading == ""
    with pytest.raises(ValueError, match="grain"):
        ChunkMaker(160, 120, footage_grain={"temporal": 0.01, "spatial": 0.01}, measure_grain=False)
