"""Scorer tier sets × normal-footage amount on one labelled site, measured in one run.

    python evals/bench_tiers.py --root DIR (or $VADAGENT_DATA) [--seconds all,30] [--budget-s 120]

For each amount of normal footage (all of the training clips, or their first S seconds) and each
tier set (fixed equal weights), and the shipped default (motion+objects with self-validation
choosing the tiers and weights),
runs the `eval detect` protocol: micro/macro frame AUC raw and smoothed, event recall at the
per-video 10 % budget, fit seconds and frames/s end to end (decoding included). The learned tier
(`predictor`) trains within `--budget-s`. The selection log says what self-validation tried and
chose, on synthetic anomalies in held-out training footage only. Writes
evals/results/bench_tiers.{md,json}.
"""

from __future__ import annotations

import argparse

from vadagent.evals.common import add_data_argument, add_results_argument, write_results
from vadagent.evals.datasets import load_ucsd
from vadagent.evals.detect import run_detect
from vadagent.tools.scorer import ScorerConfig
from vadagent.tools.scorer.config import DEFAULT_TIERS
from vadagent.tools.scorer.selection import describe

# (tiers, select): None is the shipped default, self-validation from 15 s of footage
SETS = [(["motion"], False), (["objects"], False), (["motion", "objects"], False), (["motion", "objects"], None),
        (["motion", "predictor"], False), (["motion", "objects", "predictor"], False)]
KEYS = ["micro_auc", "micro_auc_smoothed", "macro_auc", "macro_auc_smoothed", "average_precision", "event_recall_at_10pct",
        "fit_seconds", "frames_per_second"]
# where the site has pixel masks: does each frame's evidence box, what the explain graph names, hold the anomaly?
LOCALISATION = ["pixel_auc", "evidence_covers_anomaly", "evidence_touches_anomaly",
                "evidence_covers_anomaly_in_candidates", "evidence_touches_anomaly_in_candidates"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser, "--root", "ucsd_ped2")
    add_results_argument(parser)
    parser.add_argument("--seconds", default="all,30", help="normal-footage amounts: 'all' or seconds")
    parser.add_argument("--budget-s", type=float, default=120.0, help="training budget of the learned tier")
    parser.add_argument("--sigma", type=float, default=3.0)
    parser.add_argument("--no-learned", action="store_true", help="skip the sets with the learned tier")
    parser.add_argument("--name", default="bench_tiers")
    args = parser.parse_args()
    data = load_ucsd(args.root)
    rows = []
    for amount in args.seconds.split(","):
        seconds = None if amount == "all" else float(amount)
        for tiers, select in SETS:
            if args.no_learned and "predictor" in tiers:
                continue
            config = ScorerConfig(tiers=tiers, select=select, budget_s=args.budget_s)
            result = run_detect(data, config, sigma=args.sigma, normal_seconds=seconds)
            label = "+".join(tiers) + (" (--no-select: equal weights)" if tiers == list(DEFAULT_TIERS) and select is False
                                       else "" if select is False else " (default: self-validation chose "
                                       + describe(result["selection"]["chosen"]) + ")" if result["selection"] else " (default)")
            rows.append({"footage": amount, "set": label, **result})
            print(f"{amount:>4} {label:45s} " + " ".join(f"{k}={result[k]}" for k in KEYS), flush=True)
    lines = [f"# Scorer tier sets on {data.name}", "",
             "Frame AUC (micro = pooled, macro = mean per video), raw and smoothed (Gaussian sigma "
             f"{args.sigma:g} frames per video); event recall at 10 % of each video's frames; fit includes "
             "selection; frames/s end to end on this machine, decoding included. Equal weights except the default "
             "(tiers and weights chosen on synthetic anomalies in held-out normal footage, each fold in turn). "
             f"Learned tier budget {args.budget_s:g} s.", "",
             "| footage | tier set | " + " | ".join(KEYS) + " |", "|---|---|" + "---|" * len(KEYS)]
    lines += [f"| {r['footage']} | {r['set']} | " + " | ".join(str(r[k]) for k in KEYS) + " |" for r in rows]
    if all("pixel_auc" in r for r in rows):
        lines += ["", "Localisation against the pixel masks (what the evidence box of each frame holds; the "
                  "protocol's last clause says how each is counted; not a pixel map, so not comparable with "
                  "papers' pixel-level figures):", "",
                  "| footage | tier set | " + " | ".join(LOCALISATION) + " |", "|---|---|" + "---|" * len(LOCALISATION)]
        lines += [f"| {r['footage']} | {r['set']} | " + " | ".join(str(r[k]) for k in LOCALISATION) + " |"
                  for r in rows]
    for r in rows:
        if r["selection"]:
            lines += ["", f"Selection log ({r['footage']} footage; labels: {r['selection']['labels']}):", ""]
            lines += [f"- {'+'.join(t['tiers'])} {t['weights']}: synthetic AUC {t['auc']}" for t in r["selection"]["tried"]]
            lines += [f"- chosen: {'+'.join(r['selection']['chosen']['tiers'])}, per kind {r['selection']['chosen']['per_kind']}"]
    print(write_results(args.name, {"rows": rows}, "\n".join(lines), args.results))


if __name__ == "__main__":
    main()
