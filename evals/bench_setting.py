"""Whether a tier setting helps, judged as `fit --select` judges: on normal footage alone.

    python evals/bench_setting.py --root DIR (or $VADAGENT_DATA) --setting objects.cut_by_motion \\
        --values true,false [--draws 3] [--normal-seconds 30]

`--setting scorer.FIELD` varies a scorer-wide setting instead (`scorer.flow --values quick,half`).
A site's normal footage (Ped2's training clips) is fitted with self-validation once per value of
the setting and per draw of synthetic windows (the anomalies injected into the held-out folds; draw
0 is what `fit` uses). Every tier set self-validation tries is scored on the same windows for every
value, so the difference between two values is paired: a draw moves every set's AUC by several
hundredths, and a setting is worth having only if it wins on every draw. No test label is read.
Writes evals/results/bench_setting.{md,json} (or --name).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from vadagent.evals.common import add_data_argument, add_results_argument, write_results
from vadagent.evals.datasets import load_ucsd
from vadagent.evals.detect import first_seconds
from vadagent.tools.scorer import Scorer, ScorerConfig, selection
from vadagent.tools.scorer.selection import describe


def _value(text: str) -> object:
    """A setting's value as JSON reads it (true, 250, 0.5), or a bare word (a flow preset's name)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser, "--root", "ucsd_ped2")
    add_results_argument(parser)
    parser.add_argument("--setting", required=True,
                        help="TIER.PARAM, e.g. objects.cut_by_motion, or scorer.FIELD, e.g. scorer.flow")
    parser.add_argument("--values", required=True,
                        help="comma-separated values as JSON reads them (true, 250, 0.5) or words (quick); the first is "
                             "judged against the others")
    parser.add_argument("--draws", type=int, default=3, help="draws of synthetic windows")
    parser.add_argument("--normal-seconds", type=float, default=None,
                        help="fit on the first S seconds of the normal footage only (default: all of it)")
    parser.add_argument("--name", default="bench_setting")
    args = parser.parse_args()
    tier, _, param = args.setting.partition(".")
    values = [_value(v) for v in args.values.split(",")]
    data = load_ucsd(args.root)
    footage = first_seconds(data.train, args.normal_seconds, data.fps)
    runs = []
    for draw in range(args.draws):
        selection.DRAW = draw
        for value in values:
            config = ScorerConfig(select=True, **{param: value}) if tier == "scorer" else \
                ScorerConfig(select=True, params={tier: {param: value}})
            scorer = Scorer.fit(footage, config, folder_fps=data.fps)
            log = scorer.fit_info["selection"]
            runs.append({"draw": draw, "value": value, "chosen": describe(log["chosen"]),
                         "auc": {describe(t): t["auc"] for t in log["tried"]}})
            print(f"draw {draw} {args.setting}={value!s:6} chose {runs[-1]['chosen']:22s} "
                  + " ".join(f"{k}={v}" for k, v in runs[-1]["auc"].items()), flush=True)
    selection.DRAW = 0
    sets = list(runs[0]["auc"])
    judged, others = values[0], values[1:]
    paired = {}
    for other in others:
        for name in sets:
            gains = [next(r["auc"][name] for r in runs if r["draw"] == d and r["value"] == judged)
                     - next(r["auc"][name] for r in runs if r["draw"] == d and r["value"] == other)
                     for d in range(args.draws)]
            paired[f"{judged} vs {other}: {name}"] = [round(g, 4) for g in gains]
    lines = [f"# Self-validation of {args.setting} on {data.name}'s normal footage", "",
             "Synthetic AUC (mean over kinds) of every tier set self-validation tries, fitted on "
             + (f"the first {args.normal_seconds:g} s of the training clips" if args.normal_seconds else
                f"all {len(footage)} training clips")
             + f" with each value, on {args.draws} draws of synthetic windows (draw 0 is the one `fit` "
             "uses). No test label is read.", "",
             "| draw | value | chosen | " + " | ".join(sets) + " |", "|---|---|---|" + "---|" * len(sets)]
    lines += [f"| {r['draw']} | {r['value']} | {r['chosen']} | " + " | ".join(f"{r['auc'][n]:.4f}" for n in sets) + " |"
              for r in runs]
    lines += ["", "Paired difference per draw (the first value minus the other, same windows):", ""]
    lines += [f"- {key}: {', '.join(f'{g:+.4f}' for g in gains)} (mean {np.mean(gains):+.4f})"
              for key, gains in paired.items()]
    print("\n".join(lines[-len(paired):]))
    write_results(args.name, {"setting": args.setting, "values": values, "draws": args.draws,
                              "normal_seconds": args.normal_seconds, "runs": runs,
                              "paired_difference": paired}, "\n".join(lines), args.results)


if __name__ == "__main__":
    main()
