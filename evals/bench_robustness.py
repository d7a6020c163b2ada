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
Writes evals/results/bench_robustness.{md,json}.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import cv2
import numpy as np
from sklearn.metrics import roc_auc_score

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
    turned,
    variable,
)
from vadagent.tools.scorer import Scorer, ScorerConfig, SourceSpec, exposure, grain
from vadagent.tools.scorer import frames as frame_pass
from vadagent.tools.scorer.tiers.objects import ObjectTier
from vadagent.tools.scorer.view import AWAY_WORDS, BLANK_WORDS, MOVED_WORDS, SOFT_WORDS, FootageView
from vadagent.tools.synthetic import ClipSpec, cloud_shadow, render_clip, swaying_foliage, write_video
from vadagent.tools.video import open_video

LIGHT_AT = 125  # frame (5 s) from which the lamp is on
SHADOW_AT_S = 2.0  # from when a cloud's shadow drifts in from the left
LEARNT_AFTER = ObjectTier.Params().absorb_frames  # frames the objects tier takes to learn a change
SETTLE_S = 10.0  # and the seconds it is given on top before the light's flagged frames are counted
BREEZE_PX = 2.0  # how far the footage's breeze pushes the tree's crown (swaying_foliage)
WINDS = (1, 2, 3)  # the scored clips' wind, in breezes


def frames_of(path: Path) -> np.ndarray:
    with open_video(str(path)) as video:
        return np.concatenate([b.frames for b in video.scan(gray=False)])


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


def real_footage(root: Path) -> list[dict]:
    """Ped2's last three training clips (normal footage, so no label is involved) held out of the fit
    and written as files with frames dropped or at a variable rate: the share of their frames
    flagged, with the timestamps guard and with the declared rate alone."""
    from vadagent.evals.datasets import load_ucsd

    data = load_ucsd(root)
    fit, held = data.train[:-3], data.train[-3:]
    clips = [np.stack([cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sorted(h.iterdir())]) for h in held]
    kinds = {"as filmed": np.arange, "dropped frames": dropped, "variable rate": lambda n: variable(n, data.fps)}
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for kind, kept in kinds.items():
            for i, clip in enumerate(clips):
                numbers = kept(len(clip))
                write_video(folder / f"{kind}-{i}.mp4", clip[numbers], data.fps, numbers)
        for guard in ("timestamps", "declared rate"):
            patch = mock.patch.object(frame_pass.ChunkMaker, "_scale", lambda self, time_s: self.time_scale) \
                if guard == "declared rate" else contextlib.nullcontext()
            with patch:
                scorer = Scorer.fit([SourceSpec(str(p)) for p in fit], shipped(), folder_fps=data.fps)
                for kind in kinds:
                    scored = [scorer.score(folder / f"{kind}-{i}.mp4") for i in range(len(clips))]
                    above = np.concatenate([r.scores > r.threshold for r in scored])
                    rows.append({"footage": f"{data.name} training clips {', '.join(p.name for p in held)}",
                                 "guard": guard, "condition": kind,
                                 "frames": int(len(above)), "normal_frames_flagged": round(float(above.mean()), 3)})
                    print(rows[-1], flush=True)
    return rows


UCF_NORMAL = "videos/Normal_Videos_641_x264.mp4"  # the sample's one normal video: 2 min of a real camera
REAL_FIT_S, REAL_SCORED_FROM_S = 60.0, 70.0
LIGHTINGS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "as filmed": lambda f: f, "20 % darker": brightness, "55 % darker": lambda f: brightness(f, 0.45),
    "25 % brighter": lambda f: brightness(f, 1.25),
    "gamma 0.8 (midtones brighter)": lambda f: (255 * (f / 255.0) ** 0.8).astype(np.uint8)}


@contextlib.contextmanager
def real_clips(root: Path, changes: dict[str, Callable[[np.ndarray], np.ndarray]]) -> Iterator[tuple[Path, float, list[Path]]]:
    """The real camera's normal video, its rate, and its stretch from REAL_SCORED_FROM_S under each change, as files."""
    source = root / UCF_NORMAL
    with open_video(str(source)) as video:
        fps = video.info.fps
    frames = frames_of(source)[int(REAL_SCORED_FROM_S * fps):]
    with tempfile.TemporaryDirectory() as scratch:
        paths = [Path(scratch) / f"{number}.mp4" for number in range(len(changes))]
        for path, change in zip(paths, changes.values()):
            write_video(path, change(frames), fps)
        yield source, fps, paths


def real_row(source: Path, scorer: Scorer, clip: Path, condition: str, **way: str) -> dict:
    """The share of a real clip's frames flagged, and what was scored how."""
    scored = scorer.score(clip)
    row = {"footage": f"{source.name} from {REAL_SCORED_FROM_S:g} s (fitted on its first {REAL_FIT_S:g} s: "
           f"{scorer.description})", **way, "condition": condition, "frames": len(scored.scores),
           "normal_frames_flagged": round(float((scored.scores > scored.threshold).mean()), 3),
           "view_reported": view_reported(scored)}
    print(row, flush=True)
    return row


def real_camera(root: Path) -> list[dict]:
    """A real camera's normal video (no label involved): fitted on its first minute, the rest scored as
    filmed, darker, brighter and in another gamma, with the objects' exposure matched at the video's
    start and without (offset only, the release before): the share of its frames flagged."""
    rows = []
    with real_clips(root, LIGHTINGS) as (source, fps, clips):
        for lighting in (True, False):
            scorer = Scorer.fit([SourceSpec(str(source), 0.0, REAL_FIT_S)],
                                shipped(lighting=lighting), folder_fps=fps)
            rows += [real_row(source, scorer, clip, name, lighting="exposure matched" if lighting else "offset only")
                     for clip, name in zip(clips, LIGHTINGS)]
    return rows


GRAINS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "as filmed": lambda f: f, "grain σ 4": lambda f: grainy(f, 4),
    "55 % darker, grain σ 3": lambda f: grainy(brightness(f, 0.45), 3), "rain": rain, "drizzle": drizzle, "snow": snow,
    "haze": lambda f: fog(f, 0.5), "fog": lambda f: fog(f, 0.3)}


def real_grain(root: Path) -> list[dict]:
    """The same real camera, fitted on its first minute, the rest scored as filmed, with grain and with weather: the
    share of its frames flagged with grain.gate's guards, and with its flow read as it comes."""
    rows = []
    with real_clips(root, GRAINS) as (source, fps, clips):
        scorer = Scorer.fit([SourceSpec(str(source), 0.0, REAL_FIT_S)], shipped(), folder_fps=fps)
        for guarded in (True, False):
            with contextlib.nullcontext() if guarded else as_it_comes():
                rows += [real_row(source, scorer, clip, name, grain="where frames change" if guarded else "as it comes")
                         for clip, name in zip(clips, GRAINS)]
    return rows


TAMPERED_AT_S, TAMPERED_S = 15.0, 45.0  # the real camera's stretch from 70 s is changed from 15 s into it, and is 45 s
OTHER_CAMERA = "videos/Fighting033_x264.mp4"  # another camera of the sample, for a view cut to it


def tamperings(root: Path, at: int, fps: float) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """What is done to a camera from frame `at`: covered for 5 s, knocked or nudged, zoomed (a PTZ camera's lens drawn
    in or out), cut to another camera, defocused."""
    def covered(frames: np.ndarray) -> np.ndarray:
        out = frames.copy()
        out[at : at + int(5 * fps)] = (out[at : at + int(5 * fps)] * 0.1 + 20).astype(np.uint8)
        return out

    def other(frames: np.ndarray) -> np.ndarray:
        elsewhere = frames_of(root / OTHER_CAMERA)[: len(frames) - at]
        height, width = frames.shape[1:3]
        return np.concatenate([frames[:at], [cv2.resize(f, (width, height)) for f in elsewhere]])

    def defocused(frames: np.ndarray) -> np.ndarray:
        return np.concatenate([frames[:at], [cv2.GaussianBlur(f, (0, 0), 4) for f in frames[at:]]])

    return {"as filmed": lambda f: f, "covered for 5 s": covered,
            "knocked (2°, 10 px)": lambda f: turned(f, 2.0, (10, 6), at),
            "nudged (0.5°, 3 px)": lambda f: turned(f, 0.5, (3, 2), at),
            "zoomed in 5 %": lambda f: turned(f, 0.0, (0, 0), at, 1.05),
            "zoomed out 10 %": lambda f: turned(f, 0.0, (0, 0), at, 0.9),
            "cut to another camera": other, "defocused (blur σ 4)": defocused}


def real_view(root: Path) -> list[dict]:
    """The real camera fitted on its first minute; 45 s of the rest, tampered with from 15 s in: when its view was
    reported lost or its camera moved, and the share of its frames flagged before, in the 2 s after the change and
    later, with the view judged against the footage's and not (the release before)."""
    source = root / UCF_NORMAL
    with open_video(str(source)) as video:
        fps = video.info.fps
    frames = frames_of(source)[int(REAL_SCORED_FROM_S * fps) :][: int(TAMPERED_S * fps)]
    at = int(TAMPERED_AT_S * fps)
    changes = tamperings(root, at, fps)
    scorer = Scorer.fit([SourceSpec(str(source), 0.0, REAL_FIT_S)], shipped(), folder_fps=fps)
    unjudged = copy.copy(scorer)
    unjudged.view = None
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for number, (name, change) in enumerate(changes.items()):
            path = Path(scratch) / f"{number}.mp4"
            write_video(path, change(frames), fps)
            for judged in (True, False):
                scored = (scorer if judged else unjudged).score(path)
                above = scored.scores > scored.threshold
                rows.append({"condition": name, "view": "judged" if judged else "not judged",
                             "reported": view_reported(scored),
                             "flagged_before": round(float(above[:at].mean()), 3),
                             "flagged_2s_after": round(float(above[at : at + int(2 * fps)].mean()), 3),
                             "flagged_later": round(float(above[at + int(2 * fps) :].mean()), 3)})
                print(rows[-1], flush=True)
    return rows


REMOUNTED = {"as recorded": (0.0, (0, 0), 1.0), "0.5°, 3 px": (0.5, (3, 2), 1.0), "1°, 6 px": (1.0, (6, 3), 1.0),
             "2°, 10 px": (2.0, (10, 6), 1.0), "1°, 6 px, zoomed in 5 %": (1.0, (6, 3), 1.05)}
# Ped2's test clips as if its camera had been re-mounted: turn, shift, zoom


def ped2_remounted(root: Path) -> list[dict]:
    """Ped2's scorer (fitted on its training clips) on its test clips as recorded and as if the camera had been
    re-mounted a little off (each clip turned and shifted from its first frame, written as MP4 like every row), with
    the view judged against the footage's (put back on it) and not: micro / macro AUC and the share of normal frames
    flagged. The test labels measure; nothing is chosen on them."""
    from vadagent.evals.datasets import load_ucsd
    from vadagent.evals.detection import macro_auc, micro_auc

    data = load_ucsd(root)
    scorer = Scorer.fit([SourceSpec(str(p)) for p in data.train], shipped(), folder_fps=data.fps)
    unjudged = copy.copy(scorer)
    unjudged.view = None
    labels = [video.labels for video in data.test]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, (degrees, shift, zoom) in REMOUNTED.items():
            paths = []
            for video in data.test:
                frames = np.stack([cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in sorted(video.path.iterdir())])
                paths.append(Path(scratch) / f"{video.name}-{degrees}-{zoom}.mp4")
                write_video(paths[-1], turned(frames, degrees, shift, 0, zoom), data.fps)
            for judged, by in ((True, scorer), (False, unjudged)):
                results = list(by.score_each(paths, folder_fps=data.fps))
                scores = [r.scores[: len(y)] for r, y in zip(results, labels)]
                normal = np.concatenate([s[y == 0] > r.threshold for s, y, r in zip(scores, labels, results)])
                rows.append({"condition": name, "view": "judged" if judged else "not judged",
                             "said_moved": sum(any(MOVED_WORDS in read for _, read in r.picture) for r in results),
                             "micro_auc": round(micro_auc(labels, scores), 4), "macro_auc": round(macro_auc(labels, scores), 4),
                             "normal_frames_flagged": round(float(normal.mean()), 3)})
                print(rows[-1], flush=True)
    return rows


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
            frames = frames_of(clip) if clip.is_file() else \
                np.stack([cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in sorted(clip.iterdir())])
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
        scorer = Scorer.fit([SourceSpec(str(folder / "fit-breeze.mp4"))],
                            ScorerConfig(params=copy.deepcopy(params), median_window=MEDIAN_WINDOW))
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


def remounted_table(rows: list[dict]) -> list[str]:
    before = {r["condition"]: r for r in rows if r["view"] == "not judged"}
    return ["| Ped2's test clips | clips said moved | micro AUC | macro AUC | normal frames flagged | not judged: micro | "
            "macro | flagged |", "|---|---|---|---|---|---|---|---|",
            *(f"| {r['condition']} | {r['said_moved']}/12 | {r['micro_auc']} | {r['macro_auc']} | "
              f"{r['normal_frames_flagged']:.1%} | {before[r['condition']]['micro_auc']} | "
              f"{before[r['condition']]['macro_auc']} | {before[r['condition']]['normal_frames_flagged']:.1%} |"
              for r in rows if r["view"] == "judged")]


def view_table(rows: list[dict]) -> list[str]:
    """The tampered camera's rows as a markdown table."""
    before = {r["condition"]: r for r in rows if r["view"] == "not judged"}
    return ["| from 15 s | view reported | flagged before | 2 s after | later | not judged: 2 s after | later |",
            "|---|---|---|---|---|---|---|",
            *(f"| {r['condition']} | {r['reported'] or '—'} | {r['flagged_before']:.1%} | {r['flagged_2s_after']:.1%} | "
              f"{r['flagged_later']:.1%} | {before[r['condition']]['flagged_2s_after']:.1%} | "
              f"{before[r['condition']]['flagged_later']:.1%} |" for r in rows if r["view"] == "judged")]


def flagged_table(rows: list[dict], key: str, shipped: str, before: str, before_name: str) -> list[str]:
    """A markdown table of the share of frames flagged per condition, as shipped (`rows` whose `key` is
    `shipped`) and as before (`before`)."""
    earlier = {r["condition"]: r for r in rows if r[key] == before}
    return ["| condition | frames | flagged | " + before_name + ": flagged |", "|---|---|---|---|",
            *(f"| {r['condition']} | {r['frames']} | {r['normal_frames_flagged']:.1%} | "
              f"{earlier[r['condition']]['normal_frames_flagged']:.1%} |" for r in rows if r[key] == shipped)]


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


MEDIAN_WINDOW = ScorerConfig().median_window  # the run's fused median (--median-window measures another)


def shipped(**objects: object) -> ScorerConfig:
    """The scorer as shipped, with these settings of its objects tier (and the run's fused median)."""
    return ScorerConfig(params={"objects": objects} if objects else {}, median_window=MEDIAN_WINDOW)


@contextlib.contextmanager
def as_it_comes() -> Iterator[None]:
    """Every video's picture read as it comes: no grain or rain gate, no veil lifted."""
    with mock.patch.object(grain, "gate", lambda *_: grain.Gate()), mock.patch.object(exposure, "veil", lambda *_: None):
        yield


@contextlib.contextmanager
def guards(on: bool) -> Iterator[ScorerConfig]:
    """The shipped scorer's configuration, or one with its guards off."""
    if on:
        yield shipped()
        return
    with mock.patch.object(frame_pass, "camera_motion", lambda flow: (np.zeros(2), False)), \
            mock.patch.object(exposure, "matched", lambda gain: False), \
            as_it_comes(), \
            mock.patch.object(Scorer, "time_scale", lambda self, fps: 1.0), \
            mock.patch.object(frame_pass.ChunkMaker, "_scale", lambda self, time_s: 1.0), view_unjudged():
        yield shipped(absorb_frames=10**9, lighting=False)


def view_unjudged() -> contextlib.AbstractContextManager:
    """Scorers fitted with no view of their footage: no video's view judged against it (view.py)."""
    return mock.patch.object(FootageView, "of", lambda sample: None)


def view_reported(scored) -> str:
    """When and how a scored video's view was reported lost, moved or soft ("" where it never was): "blank from 15.1 s"."""
    fps = scored.info.fps
    return ", ".join(f"{kind} from {frame / fps:.1f} s" for frame, read in scored.picture
                     for kind, words in (("blank", BLANK_WORDS), ("away", AWAY_WORDS), ("moved", MOVED_WORDS),
                                         ("soft", SOFT_WORDS))
                     if words in read)


def main() -> None:
    global MEDIAN_WINDOW  # shipped() builds every configuration of the run with it
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_results_argument(parser)
    default = Path(os.environ[DATA_ENV]) / "ucsd_ped2" if os.environ.get(DATA_ENV) else None
    parser.add_argument("--ped2", type=Path, default=default,
                        help=f"UCSD Ped2 folder, for the real-footage rows (default from ${DATA_ENV}; skipped without)")
    default = Path(os.environ[DATA_ENV]) / "ucf_crime_sample" if os.environ.get(DATA_ENV) else None
    parser.add_argument("--ucf", type=Path, default=default,
                        help=f"UCF-Crime sample folder, for the real camera's rows (default from ${DATA_ENV}; skipped without)")
    parser.add_argument("--median-window", type=int, default=MEDIAN_WINDOW,
                        help="the fused score's median over this many frames (the shipped value unless measuring another)")
    parser.add_argument("--name", default="bench_robustness", help="results file name")
    args = parser.parse_args()
    MEDIAN_WINDOW = args.median_window
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
             + (f"with the fused score's median over {MEDIAN_WINDOW} frames (shipped: {ScorerConfig().median_window}), "
                if MEDIAN_WINDOW != ScorerConfig().median_window else "")
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
    remounted = ped2_remounted(args.ped2) if args.ped2 else []
    if remounted:
        lines += ["", "Ped2's test clips as recorded and as if its camera had been re-mounted a little off (turned and "
                  "shifted from their first frame, the last zoomed in as well), its scorer fitted on the training clips; with "
                  "the view judged "
                  "against the footage's (the clips put back on it) and not. The test labels measure, nothing is "
                  "chosen on them; written as MP4, the clips as recorded read a little lower than `eval detect`'s "
                  "frames.", "", *remounted_table(remounted)]
    real = real_footage(args.ped2) if args.ped2 else []
    if real:
        lines += ["", f"Real footage: {real[0]['footage']} held out of the fit (all normal), written as files "
                  "under each condition; share of their frames flagged with the timestamps guard, and with the "
                  "declared rate alone (the release before it).", "",
                  *flagged_table(real, "guard", "timestamps", "declared rate", "declared rate alone")]
    camera = real_camera(args.ucf) if args.ucf else []
    if camera:
        lines += ["", f"A real camera of higher contrast: {camera[0]['footage']}; share of its frames flagged with "
                  "the objects' background matched to each video's first frame in gain and offset, and with each frame "
                  "matched in offset only (the release before).", "",
                  *flagged_table(camera, "lighting", "exposure matched", "offset only", "offset only")]
    camera_grain = real_grain(args.ucf) if args.ucf else []
    if camera_grain:
        lines += ["", "The same camera with sensor grain (new every frame) and with weather: share of its frames flagged "
                  "with its flow read only where its frames change by more than its grain (and at the darker of each "
                  "frame and the one before where it rains, and a veiled picture in the footage's tones), and as it "
                  "comes (release 48).", "",
                  *flagged_table(camera_grain, "grain", "where frames change", "as it comes", "as it comes")]
    lost = [f"{r['condition']} ({r['view_reported']})" for r in camera + camera_grain if r["view_reported"]]
    if camera:
        lines += ["", "A view reported lost or a camera moved in the real camera's clips above: "
                  + (", ".join(lost) if lost else "none") + "."]
    tampered = real_view(args.ucf) if args.ucf else []
    if tampered:
        lines += ["", f"The same camera tampered with: {TAMPERED_S:g} s of it from {REAL_SCORED_FROM_S:g} s, changed from "
                  f"{TAMPERED_AT_S:g} s in; when its view was reported lost or its camera moved (and put back on the "
                  "footage's view), and the share of its frames flagged before, in the 2 s after the change, and later, "
                  "with its view judged against the footage's (view.py) and not (the release before).", "",
                  *view_table(tampered)]
    record = {"rows": rows, "real_footage": real, "real_camera": camera, "real_camera_grain": camera_grain,
              "real_camera_tampered": tampered, "ped2_remounted": remounted, "shadowed": shadows, "windy": winds,
              "scorer": chose[True], "scorer_guards_off": chose[False],
              "light_learnt_after_s": {"guards on": learnt[True], "guards off": learnt[False]},
              "standing_about": stand}
    print(write_results(args.name, {**record, "median_window": MEDIAN_WINDOW}, "\n".join(lines), args.results))


if __name__ == "__main__":
    main()
