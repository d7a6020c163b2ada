"""How much a scorer's accuracy depends on which few seconds of normal footage it was fitted on.

    python evals/bench_footage.py --root DIR (or $VADAGENT_DATA) [--seconds 15,30,60] [--spans N]

A new site often has a minute of normal footage or less, and which minute it is (a quiet one, a
busy one) is chance. Ped2's training clips (255 s, played one after another) are cut into disjoint
spans of S seconds; the shipped default (self-validation choosing tiers and weights) is fitted on
each span in turn and scored on the test clips by the `eval detect` protocol, the same figures as
`vadagent eval detect --normal-seconds S --normal-from START`. The table gives, per amount, the
lowest, median and highest micro and macro AUC over the spans, how many spans kept every event at
the 10 % budget and by the product's own candidates, and what self-validation chose. Nothing is
chosen here: every setting is the shipped one, so the test labels only measure. Writes
evals/results/bench_footage.{md,json}.
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

from vadagent.evals.common import add_data_argument, add_results_argument, write_results
from vadagent.evals.datasets import load_ucsd
from vadagent.evals.detect import footage_seconds, run_detect
from vadagent.tools.scorer import ScorerConfig
from vadagent.tools.scorer.selection import describe

FIGURES = ("micro_auc", "macro_auc", "micro_auc_smoothed", "macro_auc_smoothed")


def _spread(figure: dict) -> str:
    return f"{figure['min']:.3f} / {figure['median']:.3f} / {figure['max']:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser, "--root", "ucsd_ped2")
    add_results_argument(parser)
    parser.add_argument("--seconds", default="15,30,60", help="footage amounts in seconds, comma-separated")
    parser.add_argument("--spans", type=int, default=None, help="disjoint spans per amount (default: all that fit)")
    parser.add_argument("--sigma", type=float, default=3.0)
    parser.add_argument("--name", default="bench_footage")
    args = parser.parse_args()
    data = load_ucsd(args.root)
    total = footage_seconds(data.train, data.fps)
    runs = []
    for amount in (float(a) for a in args.seconds.split(",")):
        count = int(total // amount) if args.spans is None else min(args.spans, int(total // amount))
        for span in range(count):
            result = run_detect(data, ScorerConfig(), sigma=args.sigma, normal_seconds=amount, normal_from=span * amount)
            chosen = describe(result["selection"]["chosen"]) if result["selection"] else "no selection (too little footage)"
            runs.append({"seconds": amount, "from_s": span * amount, "chosen": chosen,
                         **{k: result[k] for k in (*FIGURES, "events_recalled", "events_total",
                                                   "events_covered_by_candidates", "fit_seconds", "per_video_auc")}})
            print(f"{amount:g} s from {span * amount:5g} s: chose {chosen:22s} "
                  + " ".join(f"{k}={result[k]}" for k in FIGURES)
                  + f" events {result['events_recalled']}/{result['events_total']}", flush=True)
    summary = []
    for amount in sorted({r["seconds"] for r in runs}):
        group = [r for r in runs if r["seconds"] == amount]
        summary.append({"seconds": amount, "spans": len(group),
                        **{k: {"min": min(r[k] for r in group), "median": float(np.median([r[k] for r in group])),
                               "max": max(r[k] for r in group)} for k in FIGURES},
                        "spans_macro_at_least_0.85": sum(r["macro_auc"] >= 0.85 for r in group),
                        "spans_every_event_at_10pct": sum(r["events_recalled"] == r["events_total"] for r in group),
                        "spans_every_event_by_candidates": sum(r["events_covered_by_candidates"] == r["events_total"]
                                                               for r in group),
                        "chosen": dict(Counter(r["chosen"] for r in group))})
    lines = [f"# How much the default depends on which normal footage it had ({data.name})", "",
             f"The training clips ({total:.0f} s) cut into disjoint spans of S seconds; the shipped default fitted "
             "on each in turn (self-validation on), scored on every test clip by the `eval detect` protocol. "
             f"Frame AUC, micro (pooled) and macro (mean per video), raw and smoothed (Gaussian sigma {args.sigma:g} "
             "frames per video), as lowest / median / highest over the spans. Events: spans whose scores kept every "
             "event at the 10 % budget, and whose candidates (the product's own picker) covered every event. "
             "No setting is chosen here.", "",
             "| footage (s) | spans | micro AUC | macro AUC | micro σ | macro σ | macro ≥ 0.85 | every event @10 % "
             "| every event by candidates | self-validation chose |", "|---|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        spread = [_spread(s[k]) for k in FIGURES]
        chosen = ", ".join(f"{name} {n}/{s['spans']}" for name, n in sorted(s["chosen"].items(), key=lambda c: -c[1]))
        lines.append(f"| {s['seconds']:g} | {s['spans']} | {' | '.join(spread)} | {s['spans_macro_at_least_0.85']}/{s['spans']} "
                     f"| {s['spans_every_event_at_10pct']}/{s['spans']} | {s['spans_every_event_by_candidates']}/{s['spans']} "
                     f"| {chosen} |")
    lines += ["", "Every span:", "", "| footage (s) | from (s) | chose | " + " | ".join(FIGURES) + " | events @10 % | fit s |",
              "|---|---|---|" + "---|" * len(FIGURES) + "---|---|"]
    lines += [f"| {r['seconds']:g} | {r['from_s']:g} | {r['chosen']} | " + " | ".join(f"{r[k]:.4f}" for k in FIGURES)
              + f" | {r['events_recalled']}/{r['events_total']} | {r['fit_seconds']} |" for r in runs]
    print(write_results(args.name, {"summary": summary, "runs": runs}, "\n".join(lines), args.results))


if __name__ == "__main__":
    main()
