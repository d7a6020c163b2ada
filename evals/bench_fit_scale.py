"""How fitting and scoring grow with the amount of normal footage: seconds, peak memory and frames/s,
on synthetic clips.

    python evals/bench_fit_scale.py [--clips 5,10,20,40] [--seconds 20] [--cache DIR]

A site's normal footage is N clips of S seconds at 640 x 360 (tools/synthetic.py: walkers on a
footpath, one site, rendered once into --cache). Each amount is fitted with the shipped settings
(motion+objects, self-validation on) in a fresh process, which reports its fit time and its peak
resident memory; in the same run, and interleaved with it, the same fit with every clip keeping
frames for self-validation's synthetic windows (the scheme before `selection.window_sources`: 120
frames per clip); and the same fit with the objects tier's appearance model comparing with every
normal object it keeps (the scheme before `objects.APPEARANCE_OBJECTS`); last, the largest amount with
`max_footage_s` at half of it (scorer.thinned). Each fitted scorer then scores one more clip of the
site, twice, and the faster pass's frames/s is reported, with the objects tier's scoring alone on it
(the fastest of three passes). No label is involved. Writes
evals/results/bench_fit_scale.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from vadagent.evals.common import add_results_argument, write_results

# variant → (self-validation's window sources per fold, scorer settings); None: the shipped value
VARIANTS = {"shipped (at most 16 clips keep frames)": (None, {}),
            "every clip keeps frames (before)": (10**6, {}),
            "appearance model keeps every object (before)": (None, {"objects": {"appearance_objects": 60_000}})}
CHILD = """
import json, resource, sys, time
from vadagent.tools.scorer import selection
from vadagent.tools.scorer.scorer import Scorer, ScorerConfig, SourceSpec
paths, per_fold, params, cap_s, probe = (json.loads(a) for a in sys.argv[1:6])
if per_fold is not None:
    selection.WINDOW_SOURCES_PER_FOLD = per_fold
imported = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
began = time.perf_counter()
scorer = Scorer.fit([SourceSpec(p) for p in paths], ScorerConfig(params=params, **({"max_footage_s": cap_s} if cap_s else {})))
fit_seconds = time.perf_counter() - began
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
passes = []
for _ in range(2):
    began = time.perf_counter()
    frames = len(scorer.score(probe).scores)
    passes.append(frames / (time.perf_counter() - began))
objects, lookup_ms = scorer.tiers.get("objects"), None
if objects:  # the objects tier's scoring alone (its k-nearest-neighbour look-ups), on the probe's objects
    from vadagent.tools.scorer.frames import chunks
    from vadagent.tools.video import open_video
    reader = objects.reader()
    with open_video(probe) as video:
        flow = scorer.config.flow_for(scorer.tiers)
        parts = [reader.feed(c) for c in chunks(video, scorer.width, scorer.height, flow=flow)]
    frames = sum(len(p.indices) for p in parts)
    timed = []
    for _ in range(3):
        began = time.perf_counter()
        for part in parts:
            objects.score(part)
        timed.append(time.perf_counter() - began)
    lookup_ms = round(1000 * min(timed) / frames, 3)
print(json.dumps({"fit_seconds": round(fit_seconds, 1), "frames": scorer.fit_info["frames"],
                  "chosen": selection.describe(scorer.fit_info["selection"]["chosen"]),
                  "thinned_from_s": scorer.fit_info.get("thinned_from_s"),
                  "normal_objects": len(objects.train) if objects else None,
                  "appearance_objects": len(objects.appearance_rows) if objects else None,
                  "score_fps": round(max(passes), 1), "objects_scoring_ms": lookup_ms,
                  "imported_mb": round(imported), "peak_mb": round(peak)}))
"""


def rendered(folder: Path, count: int, seconds: float) -> list[Path]:
    from vadagent.tools.synthetic import ClipSpec, render_clip

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"normal_{seconds:g}s_{i:03d}.mp4" for i in range(count)]
    for i, path in enumerate(paths):
        if not path.is_file():
            render_clip(ClipSpec(seconds=seconds, seed=100 + i, width=640, height=360), path)
            print(f"rendered {path.name}", flush=True)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_results_argument(parser)
    parser.add_argument("--clips", default="5,10,20,40", help="numbers of normal clips to fit on")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each clip")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "vadagent_fit_scale",
                        help="where the clips are rendered (reused when there)")
    args = parser.parse_args()
    counts = [int(c) for c in args.clips.split(",")]
    *paths, probe = rendered(args.cache, max(counts) + 1, args.seconds)  # the last clip is scored
    runs = []
    plan = [(count, variant, *how, None) for count in counts for variant, how in VARIANTS.items()]
    half = max(counts) * args.seconds / 2  # the largest amount once more, thinned to half (scorer.max_footage_s)
    plan.append((max(counts), f"shipped, max_footage_s {half:g} (thinned to half)", None, {}, half))
    for count, variant, per_fold, params, cap_s in plan:
        done = subprocess.run([sys.executable, "-c", CHILD, *(json.dumps(a) for a in (
            [str(p) for p in paths[:count]], per_fold, params, cap_s, str(probe)))], capture_output=True, text=True,
            check=False)
        if done.returncode != 0:
            raise SystemExit(f"fit on {count} clips ({variant}) failed:\n{done.stderr[-2000:]}")
        runs.append({"clips": count, "footage_s": count * args.seconds, "variant": variant,
                     **json.loads(done.stdout.strip().splitlines()[-1])})
        r = runs[-1]
        print(f"{count:3d} clips {variant:45s} fit {r['fit_seconds']:6.1f} s  peak {r['peak_mb']} MB "
              f"(after imports {r['imported_mb']})  chose {r['chosen']}  normal objects {r['normal_objects']} "
              f"(appearance {r['appearance_objects']})  scores {r['score_fps']} frames/s, objects tier's scoring "
              f"{r['objects_scoring_ms']} ms a frame", flush=True)
    lines = ["# Fitting on more normal footage: time and peak memory", "",
             f"Clips of {args.seconds:g} s at 640 x 360 (synthetic walkers, one site), fitted with the shipped settings "
             "(motion+objects, self-validation on), each fit in a fresh process; peak = the process's maximum "
             "resident memory (imports alone: the column after it). The variants in the same run, interleaved; last, "
             "the largest amount again with `scorer.max_footage_s` set to half of it (fitted on spread stretches). "
             "Scoring: one more clip of the site, end to end (decoding included), the faster of two passes; the "
             "objects tier's normal objects, how many of them its appearance model compares with, and its scoring alone "
             "(the k-nearest-neighbour look-ups, ms a frame of that clip, the fastest of three passes).", "",
             "| clips | footage (s) | frames | variant | fit (s) | frames/s of footage fitted | peak RSS (MB) "
             "| after imports (MB) | chose | normal objects (appearance) | scoring frames/s | objects scoring (ms/frame) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['clips']} | {r['footage_s']:g} | {r['frames']} | {r['variant']} | {r['fit_seconds']} | "
              f"{r['frames'] / r['fit_seconds']:.0f} | {r['peak_mb']} | {r['imported_mb']} | {r['chosen']} | "
              f"{r['normal_objects']} ({r['appearance_objects']}) | {r['score_fps']} | {r['objects_scoring_ms']} |"
              for r in runs]
    print(write_results("bench_fit_scale", {"clip_seconds": args.seconds, "runs": runs}, "\n".join(lines), args.results))


if __name__ == "__main__":
    main()
