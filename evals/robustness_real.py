"""The real footage of evals/bench_robustness.py: UCSD Ped2's normal training clips with frames dropped or at a variable
rate, its test clips as if its camera had been re-mounted, and a real camera of the UCF-Crime sample under other light,
grain, weather and tampering (the script's docstring says each), with their sections of the results."""

from __future__ import annotations

import contextlib
import copy
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import cv2
import numpy as np

from vadagent.evals.conditions import brightness, drizzle, dropped, fog, grainy, rain, snow, turned, variable
from vadagent.evals.robustness import as_it_comes, flagged_table, frames_of, shipped, view_reported
from vadagent.tools.scorer import Scorer, SourceSpec
from vadagent.tools.scorer import frames as frame_pass
from vadagent.tools.scorer.view import MOVED_WORDS
from vadagent.tools.synthetic import write_video
from vadagent.tools.video import open_video


def real_footage(root: Path) -> list[dict]:
    """Ped2's last three training clips (normal footage, so no label is involved) held out of the fit
    and written as files with frames dropped or at a variable rate: the share of their frames
    flagged, with the timestamps guard and with the declared rate alone."""
    from vadagent.evals.datasets import load_ucsd

    data = load_ucsd(root)
    fit, held = data.train[:-3], data.train[-3:]
    clips = [frames_of(h) for h in held]
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
                frames = frames_of(video.path)
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


def real_sections(ped2: Path | None, ucf: Path | None) -> tuple[list[str], dict[str, list[dict]]]:
    """The real footage's rows (Ped2's with `ped2`, the real camera's with `ucf`; none without) and their sections of
    the results' markdown."""
    lines: list[str] = []
    remounted = ped2_remounted(ped2) if ped2 else []
    if remounted:
        lines += ["", "Ped2's test clips as recorded and as if its camera had been re-mounted a little off (turned and "
                  "shifted from their first frame, the last zoomed in as well), its scorer fitted on the training clips; with "
                  "the view judged "
                  "against the footage's (the clips put back on it) and not. The test labels measure, nothing is "
                  "chosen on them; written as MP4, the clips as recorded read a little lower than `eval detect`'s "
                  "frames.", "", *remounted_table(remounted)]
    real = real_footage(ped2) if ped2 else []
    if real:
        lines += ["", f"Real footage: {real[0]['footage']} held out of the fit (all normal), written as files "
                  "under each condition; share of their frames flagged with the timestamps guard, and with the "
                  "declared rate alone (the release before it).", "",
                  *flagged_table(real, "guard", "timestamps", "declared rate", "declared rate alone")]
    camera = real_camera(ucf) if ucf else []
    if camera:
        lines += ["", f"A real camera of higher contrast: {camera[0]['footage']}; share of its frames flagged with "
                  "the objects' background matched to each video's first frame in gain and offset, and with each frame "
                  "matched in offset only (the release before).", "",
                  *flagged_table(camera, "lighting", "exposure matched", "offset only", "offset only")]
    camera_grain = real_grain(ucf) if ucf else []
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
    tampered = real_view(ucf) if ucf else []
    if tampered:
        lines += ["", f"The same camera tampered with: {TAMPERED_S:g} s of it from {REAL_SCORED_FROM_S:g} s, changed from "
                  f"{TAMPERED_AT_S:g} s in; when its view was reported lost or its camera moved (and put back on the "
                  "footage's view), and the share of its frames flagged before, in the 2 s after the change, and later, "
                  "with its view judged against the footage's (view.py) and not (the release before).", "",
                  *view_table(tampered)]
    return lines, {"real_footage": real, "real_camera": camera, "real_camera_grain": camera_grain,
                   "real_camera_tampered": tampered, "ped2_remounted": remounted}
