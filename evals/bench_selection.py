"""How steady self-validation's choice is, on normal footage alone (no test label is read).

    python evals/bench_selection.py --root DIR (or $VADAGENT_DATA) [--seconds 15,30,60,all] [--spans 4]
    python evals/bench_selection.py --footage VIDEO ... [--fps F] [--seconds 15,30,60]

The site's normal footage (Ped2's training clips played one after another, or `--footage`: another
site's normal videos or frame folders, such as the UCF-Crime sample's shop) is cut into disjoint
spans of S seconds, and `fit --select` runs on each span twice in the same process: holding out
one fold of it (the scheme before: the last quarter, or every fourth clip) and holding out each of
its four folds in turn (the scheme shipped), with as many synthetic windows in both. A selection
that depends on which seconds of normal footage a user happens to have chooses differently from
span to span; the table gives, per amount and scheme, how often the most common choice was made
and how far each candidate's synthetic AUC moved between spans. Writes
evals/results/bench_selection.{md,json}.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np

from vadagent.evals.common import add_results_argument, add_site_arguments, site_from, write_results
from vadagent.evals.detect import footage_between, footage_seconds
from vadagent.tools.scorer import ScorerConfig, selection
from vadagent.tools.scorer.scorer import Scorer
from vadagent.tools.scorer.selection import describe

SCHEMES = {"one fold held out": 1, "four folds in turn": selection.FOLDS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_site_arguments(parser)
    add_results_argument(parser)
    parser.add_argument("--seconds", default="15,30,60,all", help="footage amounts: seconds, or 'all'")
    parser.add_argument("--spans", type=int, default=4, help="disjoint spans per amount (at most)")
    parser.add_argument("--name", default="bench_selection")
    args = parser.parse_args()
    site = site_from(args, parser)
    total = footage_seconds(site.footage, site.fps)
    runs = []
    try:
        for amount in args.seconds.split(","):
            seconds = None if amount == "all" else float(amount)
            count = 1 if seconds is None else min(args.spans, int(total // seconds))
            for span in range(count):
                start = 0.0 if seconds is None else span * seconds
                footage = footage_between(site.footage, start, seconds, site.fps)
                for scheme, rounds in SCHEMES.items():
                    selection.ROUNDS = rounds
                    began = time.perf_counter()
                    scorer = Scorer.fit(footage, ScorerConfig(select=True), folder_fps=site.fps)
                    log = scorer.fit_info.get("selection")
                    if log is None:
                        print(f"{amount:>4} span {span} {scheme}: too little footage to select", flush=True)
                        continue
                    runs.append({"footage": amount, "span_start_s": start, "scheme": scheme, "chosen": describe(log["chosen"]),
                                 "auc": {describe(t): t["auc"] for t in log["tried"]}, "held_out_frames": log["held_out_frames"],
                                 "fit_seconds": round(time.perf_counter() - began, 1)})
                    print(f"{amount:>4} span {span} {scheme:20s} chose {runs[-1]['chosen']:22s} "
                          + " ".join(f"{k}={v}" for k, v in runs[-1]["auc"].items()), flush=True)
    finally:
        selection.ROUNDS = selection.FOLDS  # the scheme `fit` uses, whatever ended the runs
    summary = []
    for amount in args.seconds.split(","):
        for scheme in SCHEMES:
            group = [r for r in runs if r["footage"] == amount and r["scheme"] == scheme]
            if not group:
                continue
            chosen = Counter(r["chosen"] for r in group)
            spread = {name: round(float(np.ptp([r["auc"][name] for r in group])), 4) for name in group[0]["auc"]}
            summary.append({"footage": amount, "scheme": scheme, "spans": len(group),
                            "most_common": chosen.most_common(1)[0][0],
                            "agreement": f"{chosen.most_common(1)[0][1]}/{len(group)}",
                            "held_out_frames": int(np.median([r["held_out_frames"] for r in group])),
                            "largest_auc_spread": max(spread.values()), "auc_spread": spread,
                            "fit_seconds": round(float(np.median([r["fit_seconds"] for r in group])), 2)})
    lines = [f"# Self-validation's choice across disjoint spans of {site.name}", "",
             "Each span is fitted with `--select` twice: one fold held out (the scheme before) and the four "
             "folds held out in turn (shipped), with as many synthetic windows in both (24 per kind). Agreement: "
             "spans whose choice was the most common one. AUC spread: largest minus smallest synthetic AUC of a "
             "candidate over the spans (the largest over candidates; per candidate in the JSON). No test label is "
             "read.", "",
             "| footage (s) | scheme | spans | most common choice | agreement | held-out frames (median) "
             "| largest AUC spread | fit s (median) |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {s['footage']} | {s['scheme']} | {s['spans']} | {s['most_common']} | {s['agreement']} "
              f"| {s['held_out_frames']} | {s['largest_auc_spread']} | {s['fit_seconds']} |" for s in summary]
    lines += ["", "Every run:", "", "| footage (s) | span from (s) | scheme | chose | " + " | ".join(runs[0]["auc"]) + " |",
              "|---|---|---|---|" + "---|" * len(runs[0]["auc"])]
    lines += [f"| {r['footage']} | {r['span_start_s']:g} | {r['scheme']} | {r['chosen']} | "
              + " | ".join(str(v) for v in r["auc"].values()) + " |" for r in runs]
    print(write_results(args.name, {"summary": summary, "runs": runs}, "\n".join(lines), args.results))


if __name__ == "__main__":
    main()
