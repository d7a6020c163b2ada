"""Whether self-validation's choice on a little footage holds on the rest of the site's footage (no test
label is read).

    python evals/bench_span_choice.py --root DIR (or $VADAGENT_DATA) [--seconds 15] [--spans 6] [--judge-seconds 60]
    python evals/bench_span_choice.py --footage VIDEO ... [--fps F]
    python evals/bench_span_choice.py --busy [--busy-seconds 120]

`bench_selection.py` asks whether spans of S seconds agree with one another; this asks whether a
span's choice was a good one. The footage is cut into disjoint spans of S seconds from its start, and
its last J seconds are kept aside as the judge, which no span reaches. On each span, `fit --select`
ranks every tier set and weighting on synthetic anomalies made from that span alone, and each of them
is fitted on the span as fixed. Every one is then scored, end to end, on one frame folder holding the
judge's footage and synthetic anomalies made the same way from it (windows back to back; the frames
just after each cut are left out of the AUC). A rule's regret on a span is the best candidate's judge
AUC minus that of the candidate the rule chose. Rules: `shipped` (the selection's choice: the best on
the span, ties to fewer tiers), and `every offered tier` (the best on the span among the candidates
that keep every offered tier, by the same tie rule). `--busy` judges a synthetic site of its own: a
crowd hurrying both ways along a path (the busy-background scene of the tests), rendered here; with
`--events`, every candidate is also scored on clips of that site with rendered events (a fast object, a
loiterer off the path, a slow intruder close to the camera; three clips each), a second judge made apart
from the pasted windows, whose regret is reported beside.
Writes evals/results/bench_span_choice[_NAME].{md,json}.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from sklearn.metrics import roc_auc_score

from vadagent.evals.common import Site, add_results_argument, add_site_arguments, site_from, write_results
from vadagent.evals.detect import footage_between, footage_seconds
from vadagent.tools.scorer import Scorer, ScorerConfig
from vadagent.tools.scorer.frames import working_size
from vadagent.tools.scorer.selection import describe, simplest_best, synthetic_windows
from vadagent.tools.video import open_video

CUT = 6  # frames after a cut (between windows or clips) left out: the flow, the median and the objects' tracks
WINDOWS_PER_KIND = 12
JUDGE_SEED = 7919  # the judge's windows are drawn apart from any span's own (selection's seeds are fold numbers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_site_arguments(parser)
    add_results_argument(parser)
    parser.add_argument("--busy", action="store_true", help="a rendered busy-background site instead")
    parser.add_argument("--busy-seconds", type=float, default=120.0)
    parser.add_argument("--events", action="store_true", help="with --busy: also judge on clips with rendered events")
    parser.add_argument("--seconds", type=float, default=15.0, help="span length")
    parser.add_argument("--spans", type=int, default=6, help="disjoint spans (at most)")
    parser.add_argument("--judge-seconds", type=float, default=60.0, help="the footage's last seconds, kept aside")
    parser.add_argument("--name", default="")
    args = parser.parse_args()
    if args.events and not args.busy:
        parser.error("--events judges the rendered busy site: give --busy too")
    with tempfile.TemporaryDirectory(prefix="vadagent-span-choice-") as work:
        site = busy_site(Path(work), args.busy_seconds) if args.busy else site_from(args, parser)
        events = busy_events(Path(work)) if args.events else []
        total = footage_seconds(site.footage, site.fps)
        judge_from = total - args.judge_seconds
        count = min(args.spans, int(judge_from // args.seconds))
        if count < 1:
            parser.error(f"{total:.0f} s of footage hold no span of {args.seconds:g} s before the judge's "
                         f"{args.judge_seconds:g} s")
        with open_video(str(site.footage[0]), folder_fps=site.fps) as video:
            size = working_size(video.info.width, video.info.height, ScorerConfig().max_side)
            rate = video.info.fps  # the judge's frame folder is read at the footage's own rate
        folder, labels, counted = judge_folder(site, judge_from, size, Path(work) / "judge")
        print(f"judge: {len(labels)} frames ({int(labels.sum())} anomalous) from {judge_from:.0f} s on", flush=True)
        spans = [row for span in range(count)
                 if (row := judged_span(site, span * args.seconds, args.seconds, (folder, rate), labels, counted,
                                        events))]
    summary = {rule: {"mean_regret": round(float(np.mean([s["regret"][rule] for s in spans])), 4),
                      "worst_regret": round(float(np.max([s["regret"][rule] for s in spans])), 4),
                      "mean_judge_auc": round(float(np.mean([s["judge_auc"][s["chose"][rule]] for s in spans])), 4)}
               for rule in RULES}
    if events:
        for rule in RULES:
            chosen = [s["events_auc"][s["chose"][rule]] for s in spans]
            summary[rule]["events"] = {kind: round(float(np.mean([c[kind] for c in chosen])), 4) for kind in chosen[0]}
            summary[rule]["events_pooled"] = round(float(np.mean([s["events_pooled_auc"][s["chose"][rule]]
                                                                   for s in spans])), 4)
            summary[rule]["events_mean_regret"] = round(float(np.mean([s["events_regret"][rule] for s in spans])), 4)
    result = {"site": site.name, "span_seconds": args.seconds, "judge_from_s": round(judge_from, 2),
              "judge_frames": int(len(labels)), "judge_anomalous_frames": int(labels.sum()),
              "judge_counted_frames": int(counted.sum()), "windows_per_kind": WINDOWS_PER_KIND, "cut_frames": CUT,
              "summary": summary, "spans": spans}
    write_results("bench_span_choice" + (f"_{args.name}" if args.name else ""), result, markdown(result), args.results)
    print(markdown(result))


def busy_site(folder: Path, seconds: float) -> Site:
    from vadagent.tools.synthetic import ClipSpec, render_clip

    path = folder / "busy.mp4"
    render_clip(ClipSpec(seconds=seconds, seed=11, crowd=2.5), path)  # the tests' busy scene, longer
    return Site(f"a rendered busy-background site ({seconds:g} s, crowd 2.5 walkers/s)", [path], 25.0)


EVENTS = ("fast", "loiter", "intruder")  # the rendered kinds that are anomalous at the busy site (its crowd goes both ways)
EVENT_SEEDS = (21, 22, 23)


def busy_events(folder: Path) -> list[tuple[str, Path, np.ndarray]]:
    """Clips of the busy site (16 s, each event set off 6 s in): (kind, path, frame labels)."""
    from vadagent.tools.synthetic import ClipSpec, render_clip

    clips = []
    for kind in EVENTS:
        for seed in EVENT_SEEDS:
            path = folder / f"{kind}_{seed}.mp4"
            truth = render_clip(ClipSpec(seconds=16, seed=seed, crowd=2.5, anomalies=[(kind, 6.0)]), path)
            clips.append((kind, path, np.asarray(truth.labels)))
    return clips


def judge_folder(site: Site, start_s: float, size: tuple[int, int],
                 folder: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """The judge as one frame folder: its footage, then its synthetic windows; each frame's label, and
    whether it counts (not just after a cut)."""
    clips = []
    for spec in footage_between(site.footage, start_s, None, site.fps):
        with open_video(spec.path, folder_fps=site.fps) as video:
            clips.append(np.concatenate([batch.frames for batch in video.scan(
                gray=True, chunk=64, start_s=spec.start_s, end_s=spec.end_s, size=size)]))
    background = np.median(np.concatenate(clips)[::10], axis=0).astype(np.uint8)
    windows = synthetic_windows(clips, background, seed=JUDGE_SEED, per_kind=WINDOWS_PER_KIND)
    pieces = [(clip, np.zeros(len(clip), np.int8)) for clip in clips] + [(w.frames, w.labels) for w in windows]
    folder.mkdir(parents=True)
    frames, labels, counted = 0, [], []
    for clip, clip_labels in pieces:
        for frame in clip:
            cv2.imwrite(str(folder / f"{frames:06d}.png"), frame)
            frames += 1
        labels.append(clip_labels)
        counted.append(np.arange(len(clip)) >= CUT)
    return folder, np.concatenate(labels), np.concatenate(counted)


RULES = ("shipped", "every offered tier")


def judged_span(site: Site, start_s: float, seconds: float, judge: tuple[Path, float], labels: np.ndarray,
                counted: np.ndarray, events: list[tuple[str, Path, np.ndarray]]) -> dict | None:
    """One span's choices, and every candidate's AUC on the judge (its folder and frame rate) and on the
    event clips, per kind (the mean over its clips); None where the span is too short to select on."""
    footage = footage_between(site.footage, start_s, seconds, site.fps)
    began = time.perf_counter()
    log = Scorer.fit(footage, ScorerConfig(select=True), folder_fps=site.fps).fit_info.get("selection")
    if log is None:
        print(f"span {start_s:g} s: too little footage to select", flush=True)
        return None
    offered = {name for entry in log["tried"] for name in entry["tiers"]}
    full = [entry for entry in log["tried"] if set(entry["tiers"]) == offered]
    chose = {"shipped": describe(log["chosen"]), "every offered tier": describe(simplest_best(full))}
    judged, on_events, pooled = {}, {}, {}
    for entry in log["tried"]:
        config = ScorerConfig(tiers=list(entry["tiers"]), weights=dict(entry["weights"]), select=False)
        scorer = Scorer.fit(footage, config, folder_fps=site.fps)
        scores = scorer.score(str(judge[0]), folder_fps=judge[1]).scores
        judged[describe(entry)] = round(float(roc_auc_score(labels[counted], scores[counted])), 4)
        per_kind: dict[str, list[float]] = {}
        every = [(truth, scorer.score(str(path)).scores) for _, path, truth in events]
        for (kind, _, _), (truth, scored) in zip(events, every):
            per_kind.setdefault(kind, []).append(roc_auc_score(truth, scored))
        on_events[describe(entry)] = {kind: round(float(np.mean(a)), 4) for kind, a in per_kind.items()}
        if every:  # all the clips' frames pooled: whether one threshold holds across them (micro, not per clip)
            clip_truths, clip_scores = zip(*every)
            pooled[describe(entry)] = round(float(roc_auc_score(np.concatenate(clip_truths), np.concatenate(clip_scores))), 4)
    best = max(judged.values())
    row = {"span_start_s": start_s, "chose": chose, "span_auc": {describe(t): t["auc"] for t in log["tried"]},
           "judge_auc": judged, "regret": {rule: round(best - judged[chose[rule]], 4) for rule in RULES},
           "seconds": round(time.perf_counter() - began, 1)}
    if events:
        mean = {name: float(np.mean(list(kinds.values()))) for name, kinds in on_events.items()}
        row["events_auc"], row["events_pooled_auc"] = on_events, pooled
        row["events_regret"] = {rule: round(max(mean.values()) - mean[chose[rule]], 4) for rule in RULES}
    print(f"span {start_s:g} s: chose {chose} judge {judged}", flush=True)
    return row


def markdown(result: dict) -> str:
    names = list(result["spans"][0]["judge_auc"])
    lines = [f"# Self-validation's choice on {result['span_seconds']:g} s, judged on the rest of {result['site']}", "",
             f"The judge: the footage from {result['judge_from_s']:g} s on, then {result['windows_per_kind']} synthetic "
             f"windows of each kind made from it, {result['judge_frames']} frames ({result['judge_anomalous_frames']} "
             f"anomalous; {result['judge_counted_frames']} counted, the {result['cut_frames']} after each cut left "
             "out). Each candidate fitted on the span, scored end to end. Regret: the best candidate's judge AUC minus "
             "the choice's. No test label is read.", "",
             "| rule | mean regret | worst regret | mean judge AUC of its choice |", "|---|---|---|---|"]
    lines += [f"| {rule} | {s['mean_regret']} | {s['worst_regret']} | {s['mean_judge_auc']} |"
              for rule, s in result["summary"].items()]
    lines += ["", "| span from (s) | shipped chose | every offered tier chose | " + " | ".join(
        f"{n} (span / judge)" for n in names) + " |", "|" + "---|" * (3 + len(names))]
    lines += [f"| {s['span_start_s']:g} | {s['chose']['shipped']} | {s['chose']['every offered tier']} | "
              + " | ".join(f"{s['span_auc'][n]} / {s['judge_auc'][n]}" for n in names) + " |" for s in result["spans"]]
    if "events_auc" in result["spans"][0]:
        kinds = list(result["spans"][0]["events_auc"][names[0]])
        lines += ["", f"The second judge: clips of the site with rendered events ({', '.join(kinds)}; "
                  f"{len(EVENT_SEEDS)} clips each, 16 s, each event set off 6 s in), frame AUC per kind, the mean over "
                  "its clips, and over all clips' frames pooled. Regret: the best candidate's mean over kinds minus the "
                  "choice's.", "",
                  "| rule | " + " | ".join(kinds) + " | all clips pooled | mean regret |",
                  "|---|" + "---|" * (len(kinds) + 2)]
        lines += [f"| {rule} | " + " | ".join(str(s["events"][k]) for k in kinds)
                  + f" | {s['events_pooled']} | {s['events_mean_regret']} |" for rule, s in result["summary"].items()]
        lines += ["", "| span from (s) | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        lines += [f"| {s['span_start_s']:g} | " + " | ".join(" / ".join([*(str(s["events_auc"][n][k]) for k in kinds),
                                                                    str(s["events_pooled_auc"][n])]) for n in names)
                  + " |" for s in result["spans"]]
        lines += ["", f"(each cell: {' / '.join(kinds)} / all clips pooled)"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
