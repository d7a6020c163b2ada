"""What the object relations tell the judge, measured against the figures drawn.

    python evals/bench_relations.py [--data DIR] [--results DIR] [--tracker FILE --name NAME]

The explain graph gives the model "object 3 (9×26 px, …) moves rightwards at 33 px/s" and the like as measured facts
(`tools/relations.py`). Synthetic footpaths are rendered with every figure's true place and motion
(`ClipTruth.movers`): the bundled sample's scene with a fast object, a wrong-way walker and a loiterer; it at 640 × 480;
at 10 frames a second; a busy one (walkers hurrying both ways) with a slow person near the camera; the first with
every other frame left out from 30 % to 70 % of it (a phone at half rate in low light, read on a regular clock); and
two more, held out (rendered only once the tracker's settings were fixed). Each is cut into windows of 8 s (a
candidate and its context) and tracked in each. A track is matched to the figure nearest its centre (within half the
figure's height of its drawn box) in most of its frames; its purity is the share of frames that are. Measured:

- speed: |said − true| / true for each relation that says a speed of a track matched (purity 0.8 or more) to a
  figure moving at a steady speed (a walker, the fast object, the wrong-way walker, the slow person; true: its drawn
  motion);
- size: the said height and width over the figure's drawn box;
- coverage: of each figure's frames in a window (seen 1 s or more), those a track matched to it follows; fragments:
  how many tracks it is followed by;
- the four claims ("faster than the typical moving object", "slower …", "against the flow of the others", "stands
  still"): how often each anomalous figure's own is said of it where its drawn motion makes it true (`truths`), and
  how many claims are said where untrue;
- time: a window's tracking against decoding the window alone, in the same run.

With --data, three windows spread over each real clip are timed too (no truth there), and UCSD Ped2's test clips,
real footage whose anomalies are drawn in pixel masks, are read in windows (`on_ped2`). --tracker measures another
`tools/relations.py` in its place, an earlier release's (`git show b5a02b0:tools/relations.py > r70.py`, release
70's optical-flow tracker), written as NAME. Writes evals/results/bench_relations.{md,json}.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

from vadagent.evals.common import Timer, add_data_argument, add_results_argument, write_results
from vadagent.tools import relations
from vadagent.tools.scorer.features import working_size
from vadagent.tools.synthetic import ClipSpec, ClipTruth, render_clip, write_video
from vadagent.tools.video import open_video

WINDOW_S = 8.0
FOOTPATH = ClipSpec(seconds=24, seed=11, anomalies=[("fast", 4.0), ("wrong_way", 10.0), ("loiter", 16.0)])
CLIPS = {
    "footpath": FOOTPATH,
    "footpath 640×480": replace(FOOTPATH, width=640, height=480),
    "footpath 10 fps": replace(FOOTPATH, fps=10.0),
    "busy, slow person near": ClipSpec(seconds=24, seed=12, crowd=1.0, anomalies=[("intruder", 6.0)]),
    # rendered only once the tracker's settings were fixed (on the clips above): other scenes, other draws
    "held out: footpath, site 2": ClipSpec(seconds=24, seed=31, site=2,
                                           anomalies=[("wrong_way", 3.0), ("fast", 6.0), ("loiter", 12.0)]),
    "held out: busier, site 3": ClipSpec(seconds=24, seed=32, site=3, crowd=1.5, anomalies=[("intruder", 3.0), ("fast", 14.0)]),
}
STEADY = {"walker", "fast", "wrong_way", "intruder"}  # figures that move at one speed throughout
CLAIMS = {"faster": "faster than the typical", "slower": "slower than the typical", "against": "against the flow",
          "still": "stands still"}
ANOMALY_CLAIM = {"fast": "faster", "wrong_way": "against", "loiter": "still", "intruder": "slower"}
SUBJECT = re.compile(r"^object (\d+) \((\d+)×(\d+) px")
SPEED = re.compile(r"at (\d+) px/s")
REAL = ("robbery.mp4", "earthquake.mp4")


def half_rate_copy(source: Path, target: Path, fps: float) -> None:
    """`source` with every other frame left out from 30 % to 70 % of it, the rest at their own times."""
    with open_video(source) as video:
        frames = np.concatenate([batch.frames for batch in video.scan(gray=False)])
    n = len(frames)
    kept = [i for i in range(n) if not (0.3 * n <= i < 0.7 * n and i % 2)]
    write_video(target, frames[kept], fps, kept)


def figure_at(truth: ClipTruth, frame: int, x: float, y: float) -> int | None:
    """The figure (index into `truth.movers`) nearest (x, y) in `frame`, by the distance from its drawn box, if that is
    within half the figure's height (a blob's centre may fall just outside a figure it is of, a flow blob's more so)."""
    nearest = []
    for index, mover in enumerate(truth.movers):
        at = frame - mover["first"]
        if 0 <= at < len(mover["boxes"]):
            x0, y0, x1, y1 = mover["boxes"][at]
            away = np.hypot(max(x0 - x, 0, x - x1), max(y0 - y, 0, y - y1))
            if away <= (y1 - y0) / 2:
                nearest.append((away, (x1 - x0) * (y1 - y0), index))
    return min(nearest)[2] if nearest else None


def true_speed(mover: dict, fps: float) -> float:
    return float(np.median(np.abs(np.diff(mover["x"])))) * fps


def truths(truth: ClipTruth, first: int, last: int) -> dict[int, set[str]]:
    """Which claims are true of each figure seen 1 s or more in frames [first, last]: faster (1.5× the median speed
    of the moving figures seen), slower (half of it or less), against (going the other way from most, by frames
    seen), still (standing 1 s or more: its drawn centre within 1 px for a second)."""
    seen = {}
    for index, mover in enumerate(truth.movers):
        lo, hi = max(first, mover["first"]), min(last, mover["first"] + len(mover["x"]) - 1)
        if hi - lo + 1 >= truth.fps:
            steps = np.diff(mover["x"][lo - mover["first"]: hi - mover["first"] + 1])
            seen[index] = steps
    moving = {i: steps for i, steps in seen.items() if np.median(np.abs(steps)) >= 0.05}
    typical = np.median([np.median(np.abs(steps)) for steps in moving.values()]) if moving else 0.0
    rightwards = sum(len(s) for s in moving.values() if np.median(s) > 0)
    most = 1 if rightwards * 2 > sum(len(s) for s in moving.values()) else -1
    out = {}
    for index, steps in seen.items():
        claims, speed = set(), float(np.median(np.abs(steps)))
        if index in moving and speed >= 1.5 * typical:
            claims.add("faster")
        if index in moving and speed <= typical / 2:
            claims.add("slower")
        if index in moving and np.sign(np.median(steps)) != most:
            claims.add("against")
        place = np.cumsum(steps)
        second = int(truth.fps)
        if any(np.ptp(place[i: i + second]) < 1.0 for i in range(len(place) - second + 1)):
            claims.add("still")
        out[index] = claims
    return out


def measure_window(truth: ClipTruth, clip: Path, start: float, end: float, tracker: ModuleType = relations) -> dict:
    with Timer() as tracking:
        tracked = tracker.track_objects(clip, start, end)
        told = tracker.track_relations(tracked)
    with open_video(clip) as video, Timer() as decoding:
        size = working_size(video.info.width, video.info.height, 360)
        sum(len(batch) for batch in video.scan(gray=True, start_s=start, end_s=end, chunk=32, size=size))
    fps, scale = truth.fps, tracked.scale
    first, last = round(start * fps), round(end * fps)
    true = truths(truth, first, last)
    matched: dict[int, tuple[int | None, float]] = {}
    followed: dict[int, Counter] = {}
    for track in tracked.tracks:
        frames = [round(t * fps) for t in track.times]
        figures = [figure_at(truth, f, x / scale, y / scale) for f, (x, y) in zip(frames, track.centres)]
        figure, count = Counter(figures).most_common(1)[0]
        matched[track.id] = (figure, count / len(figures))
        if figure is not None:
            followed.setdefault(figure, Counter()).update(f for f, g in zip(frames, figures) if g == figure)
    speeds, heights, widths, claims, said = [], [], [], [], set()
    for relation in told:
        subject = SUBJECT.match(relation.subject)
        if not subject:
            continue
        figure, purity = matched.get(int(subject[1]), (None, 0.0))
        made = [claim for claim, words in CLAIMS.items() if words in relation.predicate]
        # a claim is of the figure the track follows most; of none (background), it is true of nothing
        claims += [(claim, figure is not None and claim in true.get(figure, set()), relation.text()) for claim in made]
        said |= {(figure, claim) for claim in made}
        if figure is None or purity < 0.8:  # measured only where the track follows one figure
            continue
        mover = truth.movers[figure]
        box = np.median(np.asarray(mover["boxes"], float), axis=0)
        heights.append(int(subject[3]) / (box[3] - box[1]))
        widths.append(int(subject[2]) / (box[2] - box[0]))
        speed = SPEED.search(relation.predicate)
        if speed and mover["kind"] in STEADY:
            drawn = true_speed(mover, fps)
            speeds.append(abs(int(speed[1]) - drawn) / drawn)
    coverage, fragments, anomalous = [], [], []
    for index, mover in enumerate(truth.movers):
        seen = set(range(mover["first"], mover["first"] + len(mover["boxes"]))) & set(range(first, last + 1))
        if len(seen) < fps:
            continue
        frames = followed.get(index, Counter())
        coverage.append(len(seen & set(frames)) / len(seen))
        fragments.append(sum(1 for figure, _ in matched.values() if figure == index))
        claim = ANOMALY_CLAIM.get(mover["kind"])
        if claim and claim in true.get(index, set()):  # its anomaly's words are true of it here: were they said?
            anomalous.append((mover["kind"], (index, claim) in said))
    purity = [p for _, p in matched.values()]
    return {"speeds": speeds, "heights": heights, "widths": widths, "claims": claims, "purity": purity,
            "coverage": coverage, "fragments": fragments, "anomalous": anomalous, "tracking_s": tracking.seconds,
            "decoding_s": decoding.seconds, "relations": [r.text() for r in told]}


def summary(name: str, windows: list[dict]) -> dict:
    def pooled(key: str) -> list:
        return [v for w in windows for v in w[key]]

    speeds, heights, widths = pooled("speeds"), pooled("heights"), pooled("widths")
    anomalous, claims = pooled("anomalous"), pooled("claims")
    return {
        "clip": name, "windows": len(windows),
        "speed_error_median": round(float(np.median(speeds)), 3) if speeds else None,
        "speed_error_p90": round(float(np.percentile(speeds, 90)), 3) if speeds else None,
        "speeds_said": len(speeds),
        "height_ratio_median": round(float(np.median(heights)), 2) if heights else None,
        "width_ratio_median": round(float(np.median(widths)), 2) if widths else None,
        "purity_mean": round(float(np.mean(pooled("purity"))), 3) if pooled("purity") else None,
        "coverage_mean": round(float(np.mean(pooled("coverage"))), 3) if pooled("coverage") else None,
        "fragments_mean": round(float(np.mean(pooled("fragments"))), 2) if pooled("fragments") else None,
        "anomalies_said": {kind: f"{sum(s for k, s in anomalous if k == kind)}/{sum(k == kind for k, _ in anomalous)}"
                           for kind in sorted({k for k, _ in anomalous})},
        "claims": len(claims),
        "claims_false": dict(Counter(claim for claim, right, _ in claims if not right)),
        "false_said": [text for _, right, text in claims if not right],
        "tracking_over_decoding": round(sum(w["tracking_s"] for w in windows) / sum(w["decoding_s"] for w in windows), 2),
        "ms_per_window": round(1000 * float(np.mean([w["tracking_s"] for w in windows])), 1),
    }


def on_ped2(tracker: ModuleType, root: Path) -> dict:
    """UCSD Ped2's test clips (real footage, 10 frames a second; walkers are its normal, cyclists, skaters and carts
    its anomalies, drawn in its pixel masks), in windows of `WINDOW_S`: in how many windows showing an anomaly a claim
    (faster, slower, against the flow, stands still) is said of a track on it (its centre on the mask, within 4 px, in
    at least half its frames), and how many claims are said of tracks on no anomaly; and the claims said in its
    training clips, normal footage (label-free: what the settings were chosen on, with the rendered clips)."""
    from vadagent.evals.datasets import load_ucsd_ped2

    dataset = load_ucsd_ped2(root)
    singled, anomalous, claims, off, spent = 0, 0, 0, 0, []
    for video in dataset.test:
        masks = video.masks()
        near = np.stack([cv2.dilate(m.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0 for m in masks])
        for start, end in windows_of(len(video.labels) / 10.0):
            with Timer() as timer:
                tracked = tracker.track_objects(video.path, start, end, folder_fps=10.0)
                said = tracker.track_relations(tracked)
            spent.append(timer.seconds)
            on = {}
            for track in tracked.tracks:
                hits = [near[f, min(int(y / tracked.scale), near.shape[1] - 1), min(int(x / tracked.scale), near.shape[2] - 1)]
                        for t, (x, y) in zip(track.times, track.centres) if (f := round(t * 10.0)) < len(near)]
                on[track.id] = bool(hits) and np.mean(hits) >= 0.5
            shows = video.labels[round(start * 10): round(end * 10)].any()
            anomalous += int(shows)
            made = [(int(m[1]), relation) for relation in said if (m := SUBJECT.match(relation.subject))
                    and any(words in relation.predicate for words in CLAIMS.values())]
            claims += len(made)
            off += sum(not on.get(track, False) for track, _ in made)
            singled += int(shows and any(on.get(track, False) for track, _ in made))
    normal, normal_windows = Counter(), 0  # the training clips: normal footage, so every claim there is of the normal
    for path in dataset.train:
        with open_video(path, folder_fps=10.0) as opened:
            seconds = opened.info.duration_s
        for start, end in windows_of(seconds):
            normal_windows += 1
            for relation in tracker.track_relations(tracker.track_objects(path, start, end, folder_fps=10.0)):
                normal.update(claim for claim, words in CLAIMS.items() if words in relation.predicate)
    return {"windows": len(spent), "windows_with_anomaly": anomalous, "anomaly_singled_out": singled, "claims": claims,
            "claims_off_anomalies": off, "ms_per_window": round(1000 * float(np.mean(spent)), 1),
            "normal_windows": normal_windows, "normal_claims": dict(normal)}


def windows_of(seconds: float) -> list[tuple[float, float]]:
    starts = np.arange(0.0, seconds - WINDOW_S / 2, WINDOW_S)
    return [(float(s), float(min(s + WINDOW_S, seconds))) for s in starts]


def real_windows(clip: Path) -> list[tuple[float, float]]:
    """Three windows of 8 s spread over a real clip (timing only: nothing there is known)."""
    with open_video(clip) as video:
        length = video.info.duration_s
    return [(float(s), float(s + WINDOW_S)) for s in np.linspace(0, max(length - WINDOW_S, 0), 3)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_argument(parser, required=False)
    add_results_argument(parser)
    parser.add_argument("--tracker", type=Path, help="another tools/relations.py to measure")
    parser.add_argument("--name", default="bench_relations", help="the results' file name")
    args = parser.parse_args()
    tracker = relations
    if args.tracker:
        spec = importlib.util.spec_from_file_location("measured_relations", args.tracker)
        tracker = sys.modules["measured_relations"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(tracker)
    rows, said = [], {}
    with tempfile.TemporaryDirectory() as folder:
        for name, spec in CLIPS.items():
            clip = Path(folder) / f"{len(rows)}.mp4"
            truth = render_clip(spec, clip)
            copies = [(name, clip)]
            if name == "footpath":
                copies.append(("footpath, half rate 30–70 %", Path(folder) / "half.mp4"))
                half_rate_copy(clip, copies[-1][1], spec.fps)
            for label, path in copies:
                windows = [measure_window(truth, path, *w, tracker) for w in windows_of(spec.seconds)]
                rows.append(summary(label, windows))
                said[label] = {f"{w[0]:.0f}–{w[1]:.0f} s": m["relations"] for w, m in zip(windows_of(spec.seconds), windows)}
                print(rows[-1], flush=True)
        timing = []
        for clip in [args.data / "clips" / name for name in REAL] if args.data else []:
            spent = [measure_window(ClipTruth(25.0, 0, [], []), clip, *w, tracker) for w in real_windows(clip)]
            timing.append({"clip": clip.name, "ms_per_window": round(1000 * np.mean([w["tracking_s"] for w in spent]), 1),
                           "tracking_over_decoding": round(sum(w["tracking_s"] for w in spent)
                                                           / sum(w["decoding_s"] for w in spent), 2),
                           "relations": [w["relations"] for w in spent]})
            print({k: v for k, v in timing[-1].items() if k != "relations"}, flush=True)
    ped2 = None
    if args.data and (args.data / "ucsd_ped2").is_dir():
        ped2 = on_ped2(tracker, args.data / "ucsd_ped2")
        print("ucsd_ped2", ped2, flush=True)
    lines = [f"# What the object relations tell the judge ({args.tracker or 'tools/relations.py'})", "",
             f"Windows of {WINDOW_S:g} s over rendered footpaths; speed error = |said − drawn| / drawn of each speed said "
             "of a track matched (purity ≥ 0.8) to a figure moving steadily; size = said over drawn; coverage and "
             "fragments per figure seen ≥ 1 s in a window; anomalies said = windows where an anomalous figure's words "
             "(fast: faster than the typical, wrong way: against the flow, loiter: stands still, slow person near: "
             "slower than the typical) were said of it / windows where they are true of it (by its drawn motion); "
             "claims = those four said of anything, false = said where untrue (or of no one figure).", "",
             "| clip | windows | speed error median | p90 | speeds said | height said/drawn | width | purity | coverage | "
             "fragments | anomalies said | claims | false | tracking / decoding | ms a window |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['clip']} | {r['windows']} | {r['speed_error_median']} | {r['speed_error_p90']} | {r['speeds_said']} | "
              f"{r['height_ratio_median']} | {r['width_ratio_median']} | {r['purity_mean']} | {r['coverage_mean']} | "
              f"{r['fragments_mean']} | {', '.join(f'{k} {v}' for k, v in r['anomalies_said'].items())} | "
              f"{r['claims']} | {', '.join(f'{k} {v}' for k, v in r['claims_false'].items()) or '–'} | "
              f"{r['tracking_over_decoding']} | "
              f"{r['ms_per_window']} |" for r in rows]
    if timing:
        lines += ["", "Real clips (timing only): " + "; ".join(
            f"{t['clip']} {t['ms_per_window']} ms a window, {t['tracking_over_decoding']}× decoding it" for t in timing)]
    if ped2:
        lines += ["", f"UCSD Ped2's test clips (real footage; `--data`'s ucsd_ped2), windows of {WINDOW_S:g} s: in "
                  f"{ped2['anomaly_singled_out']} of the {ped2['windows_with_anomaly']} windows showing an anomaly a claim "
                  f"(faster, slower, against the flow, stands still) is said of a track on it; {ped2['claims_off_anomalies']} "
                  f"of the {ped2['claims']} claims said are of tracks on no anomaly; {ped2['ms_per_window']} ms a window "
                  f"({ped2['windows']} windows). Its training clips, normal footage, in {ped2['normal_windows']} windows: "
                  + ", ".join(f"{claim} said {count} times" for claim, count in sorted(ped2["normal_claims"].items()))
                  + " (each of something normal)."]
    lines += ["", "## What was said, the footpath's windows", ""]
    for window, texts in said["footpath"].items():
        lines += [f"- {window}:"] + [f"  - {t}" for t in texts]
    payload = {"tracker": str(args.tracker or "tools/relations.py"), "rows": rows, "real": timing, "ucsd_ped2": ped2,
               "said": said}
    print("written to", write_results(args.name, payload, "\n".join(lines), args.results))


if __name__ == "__main__":
    main()
