"""An analog camera's interlaced frames: its pictures by one field, its scores by both.

    python evals/bench_interlaced.py --data DIR (or $VADAGENT_DATA)

An analog camera takes two fields a frame, a field's time apart, and its recorder weaves them into one frame coded
interlaced: every moving edge combs. Two measurements, each of footage woven from pictures taken at twice the frame
rate (`tools.synthetic.woven`) and coded interlaced, top field first:

- Pictures (what the model, a report and the player's copy show): the bundled sample and the real clips under
  DIR/clips, each pair of consecutive frames woven into one. For each frame read in colour, its mean distance in gray
  levels from the first field's picture (the moment it stands for), where the two moments differ (by more than 25
  levels: what moves) and elsewhere; read as stored (woven, as release 68 read every frame), by its first field
  (as `open_video` reads a colour frame from release 69) and as a live camera's frame (`LiveSource`: by its first
  field from release 70, woven before).
- Scores (what the scorer reads): three synthetic sites rendered at 50 pictures a second and woven to 25 frames (the
  footpath at 320×240; another at 640×480; one with a busy normal crowd), each fitted on 20 s of its normal footage
  and scoring 16 s with a fast object, a wrong-way walker and a loiterer; frame-level AUC (each frame labelled as
  its first field's picture) reading both fields (the scorer's gray frames, as stored) and reading the first field
  alone (a progressive copy of the pictures: what the scorer would read were its frames read by field too).
Writes evals/results/bench_interlaced.{md,json}.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from vadagent.evals.common import clip_benchmark_args, sample_and_clips, write_results
from vadagent.tools.scorer import Scorer, ScorerConfig, SourceSpec
from vadagent.tools.synthetic import ClipSpec, render_clip, woven, write_video
from vadagent.tools.video import open_video
from vadagent.tools.video.live import LiveSource

CLIPS = ("robbery.mp4", "earthquake.mp4", "car_accident.mp4")
MOVING = 25  # gray levels between a pair's two pictures at which a pixel is counted as moving
SITES = {"footpath 320×240": {"site": 0}, "footpath 640×480": {"site": 3, "width": 640, "height": 480},
         "busy crowd 320×240": {"site": 5, "crowd": 1.0}}
ANOMALIES = [("fast", 2.0), ("wrong_way", 6.0), ("loiter", 9.0)]


def frames_of(path: Path, limit: int | None = None) -> np.ndarray:
    with open_video(path) as video:
        count = video.info.frame_count if limit is None else min(limit, video.info.frame_count)
        return video.read(range(count)).frames


def pictures(clip: Path, folder: Path) -> dict:
    """How far each reading of the woven clip's pictures is from the first field's moment, moving and still."""
    shot = frames_of(clip, 400)
    shot = shot[: len(shot) // 2 * 2]
    recording = folder / f"{clip.stem}-woven.mp4"
    write_video(recording, woven(shot), 12.5, interlaced=True)
    moving = np.abs(shot[0::2].astype(float) - shot[1::2]).max(-1) > MOVING
    by_field = frames_of(recording)
    # as stored: the same woven frames coded without the flag, which a colour read gives as they are
    plain = folder / f"{clip.stem}-woven-progressive.mp4"
    write_video(plain, woven(shot), 12.5)
    as_stored = frames_of(plain)
    # the recording as a live camera's stream, read at its own size (a watch keeps frames at most 640 px)
    source = LiveSource(str(recording), max_side=max(shot.shape[1:3]))
    live = np.stack([frame.rgb for _, frame in zip(range(len(by_field)), source.frames())])
    row = {"clip": clip.name, "frames": len(by_field), "moving_share": round(float(moving.mean()), 4)}
    for name, read in (("as_stored", as_stored), ("by_first_field", by_field), ("live", live)):
        off = np.abs(read.astype(float) - shot[0::2]).mean(-1)
        row[f"{name}_moving"] = round(float(off[moving].mean()), 2) if moving.any() else None
        row[f"{name}_still"] = round(float(off[~moving].mean()), 2)
    print(row, flush=True)
    return row


def scores(name: str, spec: dict, folder: Path) -> dict:
    """AUC on a synthetic interlaced site, the scorer reading both fields and reading the first field alone."""
    paths = {}
    for part, seconds, seed, anomalies in (("normal", 20, 1, []), ("test", 16, 2, ANOMALIES)):
        fields = folder / f"{part}-50.mp4"
        truth = render_clip(ClipSpec(seconds=seconds, fps=50, seed=seed, anomalies=anomalies, **spec), fields)
        paths[part] = folder / f"{part}-interlaced.mp4"
        write_video(paths[part], woven(frames_of(fields)), 25.0, interlaced=True)
        if part == "test":
            labels = np.asarray(truth.labels)[0::2]
        # the first field alone, as a progressive file: what the scorer would read by field
        with open_video(paths[part]) as video:
            first = video.read(range(video.info.frame_count)).frames
        write_video(folder / f"{part}-first-field.mp4", first, 25.0)
    row = {"site": name}
    for reading, suffix in (("both_fields", "interlaced"), ("first_field", "first-field")):
        scorer = Scorer.fit([SourceSpec(str(folder / f"normal-{suffix}.mp4"))], ScorerConfig(select=False))
        result = scorer.score(folder / f"test-{suffix}.mp4")
        count = min(len(labels), len(result.scores))
        row[f"auc_{reading}"] = round(float(roc_auc_score(labels[:count], result.scores[:count])), 4)
    print(row, flush=True)
    return row


def main() -> None:
    args = clip_benchmark_args(__doc__)
    with tempfile.TemporaryDirectory() as folder:
        seen = [pictures(clip, Path(folder)) for clip in sample_and_clips(args.data, CLIPS)]
        scored = []
        for name, spec in SITES.items():
            (Path(folder) / name).mkdir()
            scored.append(scores(name, spec, Path(folder) / name))
    lines = ["# An analog camera's interlaced frames", "",
             f"Pictures: mean distance (gray levels) of each frame read in colour from its first field's picture, where "
             f"the two fields' moments differ by more than {MOVING} levels (moving) and elsewhere (still).", "",
             "| clip | frames | moving share | as stored, moving | by first field, moving | live, moving | as stored, still | "
             "by first field, still | live, still |", "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['clip']} | {r['frames']} | {r['moving_share']} | {r['as_stored_moving']} | "
              f"{r['by_first_field_moving']} | {r['live_moving']} | {r['as_stored_still']} | {r['by_first_field_still']} | "
              f"{r['live_still']} |" for r in seen]
    lines += ["", "Scores: frame-level AUC on synthetic interlaced sites, each frame labelled as its first field's "
              "picture; the scorer reading both fields (as it does) and the first alone.", "",
              "| site | both fields | first field |", "|---|---|---|"]
    lines += [f"| {r['site']} | {r['auc_both_fields']} | {r['auc_first_field']} |" for r in scored]
    print("written to", write_results("bench_interlaced", {"pictures": seen, "scores": scored}, "\n".join(lines),
                                      args.results))


if __name__ == "__main__":
    main()
