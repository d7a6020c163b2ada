"""What a site's camera does to a fitted scorer: lighting that changes, another frame rate, shake.

    python evals/bench_robustness.py [--ped2 DIR] [--ucf DIR] [--median-window N --name NAME] [--results DIR]

A scorer (default tiers and flow) is fitted on 20 s of a synthetic footpath filmed by a steady
camera at 25 frames/s. It then scores a normal clip and an anomalous one (a fast object, a
wrong-way walker, a loiterer) of the same site as filmed, and as the camera might deliver them:
- `light`: the right half of the picture 60 gray levels brighter from 5 s on (a lamp switched on);
- `half rate`: every other frame, at 12.5 frames/s (a stream or an export at another rate);
- `dropped frames`: about one frame in six lost in runs of one to three, the file keeping 25 frames/s
  timestamps with gaps (a camera or recorder under load);
- `variable rate`: 4 s at 25 frames/s, then 4 s at 5, and so on, with true timestamps (a camera's
  smart codec lowering the rate in quiet stretches);
- `jitter`: the picture jumping by up to 2 px in each direction every frame (wind on a pole);
- `sway`: the picture swaying smoothly, ±3 px horizontally and ±2 px vertically, about once a second;
- `dimmer`: the whole picture at 80 % of its brightness from the start (a camera's exposure, dusk);
- `dark`: at 45 % (dusk, or a camera's exposure set for a brighter hour; darker than the half that the objects'
  exposure match took as lighting before release 48, whose figures the guards-off column gives);
- `brighter`: at 160 % (the motion tier's frame differences matched to the footage's exposure from release 48);
- `night`: at 45 % with sensor grain, Gaussian of σ 3 gray levels new every frame (a camera at night);
- `grainy`: grain of σ 6 at full brightness (a cheaper or hotter sensor; flow read only where frames change by more
  than the grain from release 49);
- `low quality`: encoded at H.264's CRF 40 against the footage's 20 (a camera's sub-stream at a low bit rate: a
  smoother, blockier picture; flow read only where frames change by 3 gray levels from release 49);
- `dawn`: from 45 % of the brightness to all of it over the first minute, then as filmed (a camera watched from night
  into day; the motion tier follows a slow change of light from release 49, matched at the start alone before);
- `rain`: 40 short streaks a frame, 40 gray levels brighter, falling anew every frame (motion read at the darker of
  each frame and the one before from release 50, as it came before);
- `drizzle`: 150 fainter, wider streaks a frame at a slant, 15 gray levels brighter (what release 50's guard was
  tried on besides `rain`, with the footpath's labels seen, as the HISTORY says);
- `snow`: 300 flakes of 3 px, 60 gray levels brighter, drifting down by 1 to 3 px a frame (over several frames);
- `haze`, `fog`: the picture at half and at 30 % of its contrast under a bright veil (from release 50, a picture whose
  contrast fell under half of what its level explains is put back into the footage's tones).
For each: the share of the normal clip's frames above the threshold (what a user would be flagged; for `light`, once
the change has had the objects tier's `absorb_frames` and 10 s more to be learnt, and how long learning it took) and
the anomalous clip's frame AUC, with the scorer as shipped and, in the same run, with its guards switched off (the
frame-rate and timestamp scaling, the shake compensation, the objects' absorption of what stands still and their
background matched to a video's first frame in gain, the motion tier's frame differences matched to its exposure, a
grainier or smoother video's flow read only where its frames change, and a rainy one's at the darker of each frame and
the one before, a veiled one put back into the footage's tones, and a video's view judged against the footage's
(view.py); the first two, the three after the exposure and the view patched out here, as they have no off switch), and
whether any clip's view was reported lost or its camera moved (none should be). Then a loiterer standing 30 s off the
path, scored with the objects tier absorbing what stands still after 250 frames and after its default; and the normal
and anomalous clips with a cloud's shadow drifting over them (its core at 60 % of the light, its edge soft, 12 px a
second), with the objects tier's `shade` (a site setting from release 53: a shadow on part of the picture is the
frame's light, no object) and as shipped; and with a tree's crown swaying in the wind in its top left (the scorer
fitted on it in a breeze, scored in that wind, twice and three times as much), with `sway` as shipped (from release
55, each tier's: while the footage's place that sways in place sways 1.5 times as fast as there, no object there and its
cells' flow judged at the footage's wind), with the objects tier's alone (release 54's site setting) and with neither.
Synthetic data, so no test label of any dataset is involved. With UCSD Ped2
(`--ped2`, or $VADAGENT_DATA/ucsd_ped2), also three of its normal training clips held out of the fit, with frames
dropped or at a variable rate, and its test clips as if its camera had been re-mounted a little off (once zoomed as
well), with the view judged and not (micro / macro AUC, normal frames flagged; the test labels measure, nothing is
chosen on them), and its test clips with a cloud's shadow drifting over them, with `shade` and as shipped; and with
the UCF-Crime sample (`--ucf`, or $VADAGENT_DATA/ucf_crime_sample), a real camera of higher contrast: its normal video
fitted on its first 60 s, and the rest from 70 s on scored as filmed, 20 % darker, 25 % brighter and with its midtones
brightened (gamma 0.8), with the objects' background matched to the video's first frame in gain where that explains it
better, and in offset only; and with grain (σ 4, and 55 % darker with σ 3), rain, drizzle, snow, haze and fog, its
flow read where its frames change (and at the darker of each frame and the one before where it rains, and a veiled
picture in the footage's tones) and as it comes; and 45 s of it tampered with from 15 s in (covered for 5 s, knocked
by 2° and 10 px, nudged by 0.5° and 3 px, zoomed in by 5 % and out by 10 %, cut to another camera of the sample,
defocused), with its view judged against the footage's and not: when its view was reported lost, its camera moved or
its picture gone soft, and the share of its frames flagged before, in the 2 s after and later.
Writes evals/results/bench_robustness.{md,json}. The real footage's rows are evals/robustness_real.py's; the scorer as
shipped, its guards off and what a scored video said of its view, evals/robustness.py's.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from vadagent.evals import robustness
from vadagent.evals.common import DATA_ENV, add_results_argument, write_results
from vadagent.evals.conditions import (
    FPS,
    brightness,
    dawn,
    drizzle,
    dropped,
    fog,
    grainy,
    jitter,
    rain,
    snow,
    sway,
    variable,
)
from vadagent.evals.robustness import configured, frames_of, guards, shipped, view_reported
from vadagent.evals.robustness_real import real_sections
from vadagent.tools.scorer import Scorer, ScorerConfig, SourceSpec
from vadagent.tools.scorer.tiers.objects import ObjectTier
from vadagent.tools.synthetic import ClipSpec, cloud_shadow, render_clip, swaying_foliage, write_video

LIGHT_AT = 125  # frame (5 s) from which the lamp is on
SHADOW_AT_S = 2.0  # from when a cloud's shadow drifts in from the left
LEARNT_AFTER = ObjectTier.Params().absorb_frames  # frames the objects tier takes to learn a change
SETTLE_S = 10.0  # and the seconds it is given on top before the light's flagged frames are counted
BREEZE_PX = 2.0  # how far the footage's breeze pushes the tree's crown (swaying_foliage)
WINDS = (1, 2, 3)  # the scored clips' wind, in breezes


def learnt_after(above: np.ndarray, numbers: np.ndarray) -> float | None:
    """Seconds from the light being switched on until every later second of the clip has under 5 % of
    its frames flagged (None: not by the end)."""
    second = (numbers - LIGHT_AT) // int(FPS)
    after = second >= 0
    share = np.bincount(second[after], above[after]) / np.maximum(np.bincount(second[after]), 1)
    late = np.flatnonzero(share >= 0.05)
    return None if len(late) and late[-1] == len(share) - 1 else float(late[-1] + 1 if len(late) else 0)


def light(frames: np.ndarray) -> np.ndarray:
    lit = frames.astype(np.int16)
    lit[LIGHT_AT:, :, frames.shape[2] // 2 :] += 60
    return np.clip(lit, 0, 255).astype(np.uint8)


# what each condition does to the frames, and which frame numbers (at 25 frames/s) reach the scorer
CONDITIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[int], np.ndarray]]] = {
    "as filmed": (lambda f: f, np.arange), "light": (light, np.arange),
    "half rate": (lambda f: f, lambda n: np.arange(0, n, 2)), "dropped frames": (lambda f: f, dropped),
    "variable rate": (lambda f: f, variable),
    "jitter": (jitter, np.arange), "sway": (sway, np.arange), "dimmer": (brightness, np.arange),
    "dark": (lambda f: brightness(f, 0.45), np.arange), "brighter": (lambda f: brightness(f, 1.6), np.arange),
    "night": (lambda f: grainy(brightness(f, 0.45), 3), np.arange), "grainy": (lambda f: grainy(f, 6), np.arange),
    "low quality": (lambda f: f, np.arange), "dawn": (dawn, np.arange), "rain": (rain, np.arange),
    "drizzle": (drizzle, np.arange), "snow": (snow, np.arange), "haze": (lambda f: fog(f, 0.5), np.arange),
    "fog": (lambda f: fog(f, 0.3), np.arange)}
LOW_QUALITY_CRF = 40  # the `low quality` condition's encoding (every other clip's: write_video's default, 20)


def write_condition(path: Path, frames: np.ndarray, name: str) -> np.ndarray:
    """The clip as the camera delivers it under `name`; returns the frame numbers kept. Half rate is
    a file at 12.5 frames/s; dropped frames and variable rate keep their frames' 25 frames/s
    timestamps, with gaps."""
    change, kept = CONDITIONS[name]
    numbers = kept(len(frames))
    shown = change(frames)[numbers]
    if name == "half rate":
        write_video(path, shown, FPS / 2)
    else:
        write_video(path, shown, FPS, numbers if name in ("dropped frames", "variable rate") else None,
                    crf=LOW_QUALITY_CRF if name == "low quality" else 20)
    return numbers


def shadowed(folder: Path, footpath_labels: np.ndarray, ped2: Path | None) -> list[dict]:
    """The footpath's normal and anomalous clips, and Ped2's test clips (its scorer fitted on its training clips), with a
    cloud's shadow drifting over them, scored with the objects tier's `shade` and as shipped: the share of normal frames
    flagged and the anomaly frame AUC (Ped2: micro / macro; its test labels measure, nothing is chosen on them)."""
    from vadagent.evals.datasets import load_ucsd
    from vadagent.evals.detection import macro_auc, micro_auc

    sites = {"footpath": ([folder / "normal.mp4", folder / "anomalous.mp4"], [folder / "fit.mp4"], FPS, None)}
    if ped2:
        data = load_ucsd(ped2)
        sites["ucsd_ped2"] = ([video.path for video in data.test], data.train, data.fps, [v.labels for v in data.test])
    rows = []
    for site, (clips, footage, fps, labels) in sites.items():
        paths = []
        for clip in clips:
            frames = frames_of(clip)
            paths.append(folder / f"{site}-{clip.stem}-shadow.mp4")
            write_video(paths[-1], cloud_shadow(frames, fps, start_s=SHADOW_AT_S if site == "footpath" else 0.0), fps)
        for shade in (True, False):
            scorer = Scorer.fit([SourceSpec(str(p)) for p in footage], shipped(shade=shade), folder_fps=fps)
            results = list(scorer.score_each(paths, folder_fps=fps))
            if labels is None:  # the footpath: its normal clip, then its anomalous one
                row = {"normal_frames_flagged": round(float(np.mean(results[0].scores > results[0].threshold)), 3),
                       "anomaly_auc": round(float(roc_auc_score(footpath_labels,
                                                                results[1].scores[: len(footpath_labels)])), 3)}
            else:
                scores = [r.scores[: len(y)] for r, y in zip(results, labels)]
                normal = np.concatenate([s[y == 0] > r.threshold for s, y, r in zip(scores, labels, results)])
                row = {"normal_frames_flagged": round(float(normal.mean()), 3),
                       "micro_auc": round(micro_auc(labels, scores), 4), "macro_auc": round(macro_auc(labels, scores), 4)}
            rows.append({"site": site, "shade": shade, **row})
            print(rows[-1], flush=True)
    return rows


SWAY = {"both": {}, "objects": {"motion": {"sway": False}}, "neither": {"objects": {"sway": False}, "motion": {"sway": False}}}


def windy(folder: Path, footpath_labels: np.ndarray) -> list[dict]:
    """The footpath with a tree's crown swaying in its top left, its scorer fitted on 20 s of it in a breeze (pushed up
    to BREEZE_PX), then a normal clip and the anomalous one in that wind and in twice and three times as much, with `sway`
    as shipped (each tier: no object where the footage's picture swayed in place, and its motion judged at the
    footage's wind, while it sways 1.5 times as fast as there), with the objects tier's alone (release 54's site
    setting) and with neither: the share of normal frames flagged and the anomaly frame AUC."""
    normal, anomalous = frames_of(folder / "normal.mp4")[: int(24 * FPS)], frames_of(folder / "anomalous.mp4")
    write_video(folder / "fit-breeze.mp4", swaying_foliage(frames_of(folder / "fit.mp4"), FPS, BREEZE_PX), FPS)
    for wind in WINDS:
        for clip, frames in (("normal", normal), ("anomalous", anomalous)):
            write_video(folder / f"wind{wind}-{clip}.mp4", swaying_foliage(frames, FPS, wind * BREEZE_PX, seed=5), FPS)
    rows = []
    for setting, params in SWAY.items():
        scorer = Scorer.fit([SourceSpec(str(folder / "fit-breeze.mp4"))], configured(params))
        for wind in WINDS:
            normal_scored, anomalous_scored = (scorer.score(folder / f"wind{wind}-{clip}.mp4")
                                               for clip in ("normal", "anomalous"))
            rows.append({"wind": wind, "sway": setting,
                         "swaying_share": round(float(scorer.tiers["objects"].sway_place.zone.mean()), 4),
                         "normal_frames_flagged": round(float(np.mean(normal_scored.scores > normal_scored.threshold)), 3),
                         "anomaly_auc": round(float(roc_auc_score(
                             footpath_labels, anomalous_scored.scores[: len(footpath_labels)])), 3)})
            print(rows[-1], flush=True)
    return rows


def _aucs(row: dict) -> str:
    """A shadowed row's anomaly AUC, or Ped2's micro / macro."""
    return str(row["anomaly_auc"]) if "anomaly_auc" in row else f"{row['micro_auc']} / {row['macro_auc']} (micro / macro)"


def standing_about(folder: Path) -> list[dict]:
    """A loiterer standing 30 s off the path, scored by the default scorer as shipped and with the
    objects tier absorbing what stands still after 250 frames (10 s; the release before)."""
    truth = render_clip(ClipSpec(seconds=45, seed=4, loiter_s=30, anomalies=[("loiter", 5.0)]), folder / "stand.mp4")
    labels, rows = np.asarray(truth.labels), []
    for absorb in (250, LEARNT_AFTER):
        scorer = Scorer.fit([SourceSpec(str(folder / "fit.mp4"))],
                            shipped(absorb_frames=absorb))
        scores = scorer.score(folder / "stand.mp4").scores[: len(labels)]
        rows.append({"absorb_frames": absorb, "anomalous_share": round(float(labels.mean()), 3),
                     "anomaly_auc": round(float(roc_auc_score(labels, scores)), 3)})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_results_argument(parser)
    default = Path(os.environ[DATA_ENV]) / "ucsd_ped2" if os.environ.get(DATA_ENV) else None
    parser.add_argument("--ped2", type=Path, default=default,
                        help=f"UCSD Ped2 folder, for the real-footage rows (default from ${DATA_ENV}; skipped without)")
    default = Path(os.environ[DATA_ENV]) / "ucf_crime_sample" if os.environ.get(DATA_ENV) else None
    parser.add_argument("--ucf", type=Path, default=default,
                        help=f"UCF-Crime sample folder, for the real camera's rows (default from ${DATA_ENV}; skipped without)")
    parser.add_argument("--median-window", type=int, default=robustness.MEDIAN_WINDOW,
                        help="the fused score's median over this many frames (the shipped value unless measuring another)")
    parser.add_argument("--name", default="bench_robustness", help="results file name")
    args = parser.parse_args()
    robustness.MEDIAN_WINDOW = args.median_window  # shipped() builds every configuration of the run with it
    rows, chose, learnt = [], {}, {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        render_clip(ClipSpec(seconds=20, seed=1), folder / "fit.mp4")
        # long enough for the light switched on to be learnt and settle, and 10 s more to count
        render_clip(ClipSpec(seconds=(LIGHT_AT + LEARNT_AFTER) / FPS + SETTLE_S + 10, seed=7), folder / "normal.mp4")
        truth = render_clip(ClipSpec(seconds=16, seed=2, anomalies=[("fast", 2.0), ("wrong_way", 6.0),
                                                                     ("loiter", 9.0)]), folder / "anomalous.mp4")
        normal, anomalous, labels = frames_of(folder / "normal.mp4"), frames_of(folder / "anomalous.mp4"), \
            np.asarray(truth.labels)
        numbers = {(name, clip): write_condition(folder / f"{name}-{clip}.mp4", frames, name)
                   for name in CONDITIONS for clip, frames in (("normal", normal), ("anomalous", anomalous))}
        for on in (True, False):
            with guards(on) as config:
                scorer = Scorer.fit([SourceSpec(str(folder / "fit.mp4"))], config)
                chose[on] = scorer.description
                for name in CONDITIONS:
                    scored = scorer.score(folder / f"{name}-normal.mp4")
                    settled = numbers[name, "normal"] >= (LIGHT_AT + LEARNT_AFTER + SETTLE_S * FPS
                                                          if name == "light" else 0)
                    above = scored.scores[: len(settled)] > scored.threshold
                    flagged = float(above[settled[: len(above)]].mean())
                    if name == "light":
                        learnt[on] = learnt_after(above, numbers[name, "normal"][: len(above)])
                    anomalous = scorer.score(folder / f"{name}-anomalous.mp4")
                    scores = anomalous.scores
                    y = labels[numbers[name, "anomalous"]][: len(scores)]
                    rows.append({"guards": "on" if on else "off", "condition": name,
                                 "view_reported": "; ".join(filter(None, map(view_reported, (scored, anomalous)))),
                                 "normal_frames_flagged": round(flagged, 3),
                                 "anomaly_auc": round(float(roc_auc_score(y, scores[: len(y)])), 3)})
                    print(rows[-1], flush=True)
        stand = standing_about(folder)
        shadows = shadowed(folder, labels, args.ped2)
        winds = windy(folder, labels)
    lines = ["# What the camera does to a fitted scorer", "",
             f"Default tiers and flow (self-validated: chose {chose[True]}; with the guards off {chose[False]}), "
             + (f"with the fused score's median over {args.median_window} frames (shipped: {ScorerConfig().median_window}), "
                if args.median_window != ScorerConfig().median_window else "")
             + "fitted on 20 s of a synthetic footpath (steady camera, 25 frames/s); a normal "
             "and an anomalous clip of the same site under each condition (see the script's docstring). Flagged: "
             "share of the normal clip's frames above the threshold (for `light`, after the change has had "
             f"{LEARNT_AFTER} frames and {SETTLE_S:g} s more to be learnt). AUC: frames of the anomalous clip.", "",
             "| condition | normal frames flagged | anomaly frame AUC | guards off: flagged | guards off: AUC |",
             "|---|---|---|---|---|"]
    off = {r["condition"]: r for r in rows if r["guards"] == "off"}
    lines += [f"| {r['condition']} | {r['normal_frames_flagged']:.1%} | {r['anomaly_auc']} | "
              f"{off[r['condition']]['normal_frames_flagged']:.1%} | {off[r['condition']]['anomaly_auc']} |"
              for r in rows if r["guards"] == "on"]
    lost = [f"{r['condition']} ({r['view_reported']})" for r in rows if r["guards"] == "on" and r["view_reported"]]
    lines += ["", "A view reported lost or a camera moved (view.py) in these clips: " + (", ".join(lost) if lost else "none")
              + "."]
    lines += ["", "Someone standing about: a loiterer stands 30 s off the path (45 s clip, "
              f"{stand[0]['anomalous_share']:.0%} of its frames anomalous); frame AUC "
              + ", ".join(f"{r['anomaly_auc']} when what stands still joins the background after "
                          f"{r['absorb_frames']} frames" for r in stand) + "."]
    lines += ["", "The lamp is learnt (every later second under 5 % of its frames flagged) "
              + ", ".join(f"{'never' if learnt[on] is None else f'{learnt[on]:.0f} s after it is switched on'} "
                          f"with the guards {'on' if on else 'off'}" for on in (True, False)) + "."]
    told = {(r["site"], r["shade"]): r for r in shadows}
    lines += ["", "A cloud's shadow drifting over the site (its core at 60 % of the light, its edge soft, 12 px a second; on "
              f"the footpath from {SHADOW_AT_S:g} s in, over each of Ped2's test clips from its first frame, its scorer "
              "fitted on the training clips), with the objects tier's `shade` (`scorer: {params: {objects: {shade: "
              "true}}}`: a shadow on part of the picture is the frame's light, no object) and as shipped. Ped2's test "
              "labels measure, nothing is chosen on them.", "",
              "| site | normal frames flagged | anomaly AUC | as shipped: flagged | AUC |", "|---|---|---|---|---|",
              *(f"| {site} | {told[site, True]['normal_frames_flagged']:.1%} | {_aucs(told[site, True])} | "
                f"{told[site, False]['normal_frames_flagged']:.1%} | {_aucs(told[site, False])} |"
                for site in dict.fromkeys(r["site"] for r in shadows))]
    swayed = {(r["wind"], r["sway"]): r for r in winds}
    lines += ["", f"A tree's crown swaying in the footpath's top left (`swaying_foliage`), its scorer fitted on 20 s of it in a "
              f"breeze (pushed up to {BREEZE_PX:g} px; the place that sways found on "
              f"{swayed[1, 'both']['swaying_share']:.1%} of the picture at the objects' size), then a normal clip of 24 s and "
              "the anomalous clip in that wind and in more, with `sway` as shipped (from release 55: while the footage's "
              "place that sways sways 1.5 times as fast as there, no object there and its motion judged at the footage's "
              "wind), with the objects tier's alone (release 54's site setting, off by default then) and with neither.", "",
              "| wind | normal frames flagged | anomaly AUC | objects' alone: flagged | AUC | neither: flagged | AUC |",
              "|---|---|---|---|---|---|---|",
              *(f"| {wind}× the footage's | "
                + " | ".join(f"{swayed[wind, setting]['normal_frames_flagged']:.1%} | {swayed[wind, setting]['anomaly_auc']}"
                             for setting in SWAY) + " |" for wind in WINDS)]
    real, real_record = real_sections(args.ped2, args.ucf)
    lines += real
    record = {"rows": rows, **real_record, "shadowed": shadows, "windy": winds,
              "scorer": chose[True], "scorer_guards_off": chose[False],
              "light_learnt_after_s": {"guards on": learnt[True], "guards off": learnt[False]},
              "standing_about": stand}
    print(write_results(args.name, {**record, "median_window": args.median_window}, "\n".join(lines), args.results))


if __name__ == "__main__":
    main()
