"""The containers cameras and recorders write, read as the MP4 is: the same frames, the same scores.

    python evals/bench_formats.py --data DIR (or $VADAGENT_DATA)

Each real clip under DIR/clips has its packets remuxed (no re-encoding) into MPEG-TS, FLV and MKV, and into the
raw stream a DVR exports (`.h264`, `.hevc`: no container, no timestamps, no seek index; release 65).
For each container, against the MP4 in the same run: whether it opens and how many frames it counts,
whether random frames read back identical, how long reading them takes (the MPEG-TS and FLV seek
steps back to a keyframe, which MP4 and MKV find in their index), the largest difference of any
frame's score and how many frames differ by more than 0.01 (one scorer fitted on the MP4's first 15 s
scores each, its motion put per fitted frame interval: a container that reports another frame rate for
the same timestamps, as the remuxes of a clip whose MP4 says 30.07 frames/s report 30, moves every score
a little), and, where a browser would
not play the file, how long the web UI's H.264 copy takes to write, against the clip's own length.
A last row per clip joins its MPEG-TS to itself (`cat a.ts a.ts`: the timestamps start again halfway):
the frames it counts and scores, whether the random frames read back identical in both halves, and how long
opening it takes the first time (its copy with continuous timestamps is written then, `tools/video/joined.py`).
A second table loses pieces of each clip's MPEG-TS, as a recording over a lossy network does (one in
`LOSS_EVERY` of the 188-byte TS packets of its second half, at random, seed 0): the frames the reader names
damaged (`VideoSource.damaged`: decoded from damaged data, or not at all, to the next keyframe); the frames
above the scorer's threshold in the second half, in the clean MPEG-TS, with pieces lost, and of those outside
the named frames; and the frames above it where the clean MPEG-TS is not at the same time (the damage's
false alarms, and where a frame lost whole moves what the objects tier learns over time, alarms moved a few
frames), with how many of those lie in the named frames.
Writes evals/results/bench_formats.{md,json}.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import av
import numpy as np

from vadagent.evals.common import Timer, add_data_argument, add_results_argument, remux, write_results
from vadagent.tools.scorer import Scorer, ScorerConfig, SourceSpec
from vadagent.tools.video import open_video
from vadagent.tools.video.preview import browser_playable, playable_copy

CLIPS = ("car_accident.mp4", "earthquake.mp4", "robbery.mp4")
CONTAINERS = {"mpegts": ".ts", "flv": ".flv", "matroska": ".mkv"}
RAW_STREAMS = {"h264": ".h264", "hevc": ".hevc"}  # the codec's own stream, FFmpeg's format of the same name
RANDOM_FRAMES = 16
FIT_S = 15.0
SCORE_TOLERANCE = 0.01  # a frame scored apart: its score differs from the MP4's by more than this
LOSS_EVERY = 100  # one TS packet in this many of the second half lost


def measure(clip: Path, reference: Path, indices: np.ndarray, scorer: Scorer, expected: dict, folder: Path) -> dict:
    row: dict = {"clip": reference.name, "container": clip.suffix.lstrip(".")}
    try:
        with open_video(clip) as video:
            row["frames"] = video.info.frame_count
            with Timer() as timer:
                picked = video.read(indices, gray=True)
            row["read_ms_per_frame"] = round(1000 * timer.seconds / len(indices), 2)
            row["same_frames"] = bool(np.array_equal(picked.frames, expected["frames"]))
    except Exception as error:  # noqa: BLE001 - a benchmark row says what failed
        return row | {"error": str(error)}
    scores = scorer.score(str(clip)).scores
    if len(scores) == len(expected["scores"]):
        differences = np.abs(scores - expected["scores"])
        row["score_max_abs_diff"] = round(float(differences.max()), 6)
        row["frames_scored_apart"] = int(np.count_nonzero(differences > SCORE_TOLERANCE))
    if not browser_playable(clip):
        copies = folder / f"copy-{clip.name}"
        copies.mkdir(exist_ok=True)
        with Timer() as timer:
            playable_copy(clip, copies)
        row["copy_s"] = round(timer.seconds, 2)
        row["copy_vs_clip_length"] = round(timer.seconds / expected["duration_s"], 3)
    return row


def measure_joined(part: Path, reference: Path, indices: np.ndarray, scorer: Scorer, expected: dict,
                   folder: Path) -> dict:
    """The clip's `part` joined to itself, as `cat a.ts a.ts` joins it."""
    joined = folder / f"{part.stem}-joined{part.suffix}"
    joined.write_bytes(part.read_bytes() * 2)
    row: dict = {"clip": reference.name, "container": f"{part.suffix.lstrip('.')} joined to itself"}
    count = len(expected["scores"])
    try:
        with Timer() as opening:
            video = open_video(joined)
        with video:
            row["frames"], row["open_s"] = video.info.frame_count, round(opening.seconds, 2)
            with Timer() as timer:
                picked = video.read(np.concatenate([indices, indices + count]), gray=True)
            row["read_ms_per_frame"] = round(1000 * timer.seconds / (2 * len(indices)), 2)
            row["same_frames"] = bool(np.array_equal(picked.frames, np.concatenate([expected["frames"]] * 2)))
    except Exception as error:  # noqa: BLE001 - a benchmark row says what failed
        return row | {"error": str(error)}
    row["frames_scored"] = len(scorer.score(str(joined)).scores)  # its scores carry the scorer's state over the
    # join (the objects' background, the frame before), so they are not the MP4's: only whether every frame is scored
    copies = folder / f"copy-{joined.name}"
    copies.mkdir(exist_ok=True)
    with Timer() as timer:
        playable_copy(joined, copies)
    row["copy_s"] = round(timer.seconds, 2)
    row["copy_vs_clip_length"] = round(timer.seconds / (2 * expected["duration_s"]), 3)
    return row


def measure_loss(part: Path, reference: Path, scorer: Scorer, folder: Path) -> dict:
    """The clip's MPEG-TS `part` with pieces lost, against itself whole."""
    data = part.read_bytes()
    packets = [data[i : i + 188] for i in range(0, len(data), 188)]
    rng = np.random.default_rng(0)
    second_half = np.arange(len(packets) // 2, len(packets))
    lost = set(rng.choice(second_half, len(second_half) // LOSS_EVERY, replace=False).tolist())
    damaged = folder / f"{part.stem}-lost{part.suffix}"
    damaged.write_bytes(b"".join(packet for i, packet in enumerate(packets) if i not in lost))
    clean, hurt = scorer.score(str(part)), scorer.score(str(damaged))
    named = np.zeros(len(hurt.scores), bool)
    for start, stop in hurt.damaged:
        named[start:stop] = True
    # a frame lost whole shifts the numbers of those after it: each damaged frame is matched to the clean one by time
    clean_times, hurt_times = _frame_times(part), _frame_times(damaged)[: len(hurt.scores)]
    clean_at = np.searchsorted(clean_times, hurt_times - 1e-6)
    clean_above = clean.scores > clean.threshold
    hurt_above = hurt.scores > hurt.threshold
    extra = hurt_above & ~clean_above[np.minimum(clean_at, len(clean.scores) - 1)]
    half_s = clean_times[-1] / 2  # where the losses begin, about
    later = hurt_times >= half_s
    return {"clip": reference.name, "ts_packets_lost": len(lost), "frames": len(clean.scores),
            "frames_left": len(hurt.scores), "skipped_packets": hurt.skipped, "frames_named_damaged": int(named.sum()),
            "stretches_named": len(hurt.damaged),
            "above_threshold_second_half_clean": int(clean_above[clean_times[: len(clean_above)] >= half_s].sum()),
            "above_threshold_second_half": int((hurt_above & later).sum()),
            "above_threshold_second_half_unnamed": int((hurt_above & later & ~named).sum()),
            "extra_frames_above_threshold": int(extra.sum()), "of_which_named": int((extra & named).sum())}


def _frame_times(path: Path) -> np.ndarray:
    """Each frame's presentation time (s), in order, from the packets (as the reader numbers frames)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stamps = sorted({packet.pts for packet in container.demux(stream) if packet.size and packet.pts is not None})
        return np.asarray(stamps, dtype=np.float64) * float(stream.time_base)


def _scored(row: dict) -> str:
    """The two score cells of a row."""
    if "frames_scored" in row:
        return f"not compared | {row['frames_scored']} of {row['frames']} scored"
    return f"{row.get('score_max_abs_diff', '–')} | {row.get('frames_scored_apart', '–')}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_argument(parser)
    add_results_argument(parser)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows: list[dict] = []
    losses: list[dict] = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        os.environ["VADAGENT_CACHE"] = str(folder / "cache")  # the joined files' copies go with the scratch folder
        for name in CLIPS:
            mp4 = args.data / "clips" / name
            with open_video(mp4) as video:
                count, duration, codec = video.info.frame_count, video.info.duration_s, video.info.codec
                indices = np.sort(rng.choice(count, min(RANDOM_FRAMES, count), replace=False))
                frames = video.read(indices, gray=True).frames
            scorer = Scorer.fit([SourceSpec(str(mp4), 0.0, min(FIT_S, duration / 2))], ScorerConfig())
            expected = {"frames": frames, "scores": scorer.score(str(mp4)).scores, "duration_s": duration}
            clips = [mp4]
            raw = {codec: RAW_STREAMS[codec]} if codec in RAW_STREAMS else {}
            for container, suffix in (CONTAINERS | raw).items():
                target = folder / f"{mp4.stem}{suffix}"
                try:
                    remux(mp4, target, container)
                    clips.append(target)
                except (av.error.FFmpegError, ValueError) as error:
                    rows.append({"clip": name, "container": suffix.lstrip("."), "error": f"remux: {error}"})
            for clip in clips:
                rows.append(measure(clip, mp4, indices, scorer, expected, folder))
                print(rows[-1], flush=True)
            if folder.joinpath(f"{mp4.stem}.ts").is_file():
                rows.append(measure_joined(folder / f"{mp4.stem}.ts", mp4, indices, scorer, expected, folder))
                print(rows[-1], flush=True)
                losses.append(measure_loss(folder / f"{mp4.stem}.ts", mp4, scorer, folder))
                print(losses[-1], flush=True)
    lines = ["# The containers cameras write, read as the MP4 is", "",
             f"Each real clip's packets remuxed (no re-encoding); {RANDOM_FRAMES} random frames read back; one scorer "
             f"fitted on the MP4's first {FIT_S:g} s scores every container; the UI's H.264 copy written where a "
             "browser would not play the file. The MPEG-TS joined to itself (its timestamps start again halfway): "
             "the random frames read in both halves, the frames scored (in the score columns; its scores carry the "
             "scorer's state over the join, so they are not compared), and the first opening's seconds, in which "
             "its copy with continuous timestamps is written.", "",
             "| clip | container | frames | first opening s | same frames | read ms/frame | largest score difference | "
             f"frames scored apart (> {SCORE_TOLERANCE:g}) | UI copy s | copy / clip length |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['clip']} | {r['container']} | – | | {r['error']} | | | | | |")
            continue
        lines.append(f"| {r['clip']} | {r['container']} | {r['frames']} | {r.get('open_s', '–')} | {r['same_frames']} | "
                     f"{r['read_ms_per_frame']} | {_scored(r)} | "
                     f"{r.get('copy_s', '–')} | {r.get('copy_vs_clip_length', '–')} |")
    lines += ["", f"## Pieces lost (one TS packet in {LOSS_EVERY} of the second half)", "",
              "| clip | TS packets lost | frames (left) | packets skipped | frames named damaged (stretches) | "
              "above threshold in the second half: clean TS / pieces lost / of those, outside the named frames | "
              "above threshold where the clean TS is not, at the same time / of those, named |",
              "|---|---|---|---|---|---|---|"]
    for r in losses:
        lines.append(f"| {r['clip']} | {r['ts_packets_lost']} | {r['frames']} ({r['frames_left']}) | {r['skipped_packets']} | "
                     f"{r['frames_named_damaged']} ({r['stretches_named']}) | {r['above_threshold_second_half_clean']} / "
                     f"{r['above_threshold_second_half']} / {r['above_threshold_second_half_unnamed']} | "
                     f"{r['extra_frames_above_threshold']} / {r['of_which_named']} |")
    print("written to", write_results("bench_formats", {"rows": rows, "losses": losses}, "\n".join(lines), args.results))


if __name__ == "__main__":
    main()
