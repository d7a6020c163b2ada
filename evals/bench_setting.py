"""Whether a tier setting helps, judged as `fit --select` judges: on normal footage alone.

    python evals/bench_setting.py --root DIR (or $VADAGENT_DATA) --setting objects.cut_by_motion \\
        --values true,false [--draws 3] [--normal-seconds all,30] [--footage VIDEO ... [--fps F]]

`--setting scorer.FIELD` varies a scorer-wide setting instead (`scorer.flow --values quick,half`).
A site's normal footage (Ped2's training clips, or `--footage`: another site's normal videos or frame
folders, such as the UCF-Crime sample's normal video of a shop) is fitted with self-validation once per value of
the setting, per amount of footage (`--normal-seconds`: the first S seconds, `all` for all of it;
several amounts in one run, comma-separated) and per draw of synthetic windows (the anomalies
injected into the held-out folds; draw 0 is what `fit` uses). Every tier set self-validation tries
is scored on the same windows for every value, so the difference between two values is paired: a
draw moves every set's AUC by several hundredths.

The verdict applies the rule the project's settings have been kept by (evals/HISTORY.md): another
value replaces the first (the shipped one) only if the set self-validation would choose with it
scores higher than the set chosen with the first on every draw, with every amount of footage
measured; a site with little footage is where a new site starts. No test label is read.
Writes evals/results/bench_setting.{md,json} (or --name).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from vadagent.evals.common import add_results_argument, add_site_arguments, site_from, write_results
from vadagent.evals.detect import first_seconds
from vadagent.tools.scorer import Scorer, ScorerConfig, selection
from vadagent.tools.scorer.selection import describe


def _value(text: str) -> object:
    """A setting's value as JSON reads it (true, 250, 0.5), or a bare word (a flow preset's name)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _amounts(text: str | None) -> list[float | None]:
    """`--normal-seconds`: seconds of footage, `all` (None) for all of it."""
    if text is None:
        return [None]
    return [None if part.strip() == "all" else float(part) for part in text.split(",")]


def _footage_name(seconds: float | None) -> str:
    return "all" if seconds is None else f"{seconds:g} s"


def _auc(runs: list[dict], value: object, seconds: float | None, draw: int, tier_set: str | None = None) -> float:
    """A run's synthetic AUC for one tier set (default: the set self-validation chose)."""
    run = next(r for r in runs if r["value"] == value and r["seconds"] == seconds and r["draw"] == draw)
    return run["auc"][tier_set or run["chosen"]]


def per_kind_table(runs: list[dict]) -> list[str]:
    """The chosen set's AUC per synthetic kind, a row per run. Every kind any run has is a column: 15 s of footage at
    10 frames/s holds out pieces too short for some (a sped-up window), and those runs show "–" there."""
    kinds = list(dict.fromkeys(kind for r in runs for kind in r["chosen_per_kind"]))
    return ["| footage | draw | value | " + " | ".join(kinds) + " |", "|---|---|---|" + "---|" * len(kinds),
            *(f"| {_footage_name(r['seconds'])} | {r['draw']} | {r['value']} | "
              + " | ".join(f"{r['chosen_per_kind'][k]:.4f}" if k in r["chosen_per_kind"] else "–" for k in kinds)
              + " |" for r in runs)]


def verdict(runs: list[dict], values: list, amounts: list[float | None], draws: int) -> list[str]:
    """Whether each other value replaces the first: its chosen set higher on every draw, every amount."""
    lines = []
    for other in values[1:]:
        gains = {seconds: [round(_auc(runs, other, seconds, d) - _auc(runs, values[0], seconds, d), 4)
                           for d in range(draws)]
                 for seconds in amounts}
        wins = all(g > 0 for per_draw in gains.values() for g in per_draw)
        shown = "; ".join(f"{_footage_name(s)}: {', '.join(f'{g:+.4f}' for g in per_draw)}" for s, per_draw in gains.items())
        lines.append(f"- {other} replaces {values[0]}: **{'yes' if wins else 'no'}** (the chosen set's AUC, "
                     f"{other} minus {values[0]}, per draw — {shown})")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_site_arguments(parser)
    add_results_argument(parser)
    parser.add_argument("--setting", required=True,
                        help="TIER.PARAM, e.g. objects.cut_by_motion, or scorer.FIELD, e.g. scorer.flow")
    parser.add_argument("--values", required=True,
                        help="comma-separated values as JSON reads them (true, 250, 0.5) or words (quick); the first is "
                             "judged against the others")
    parser.add_argument("--draws", type=int, default=3, help="draws of synthetic windows")
    parser.add_argument("--normal-seconds", default=None,
                        help="fit on the first S seconds of the normal footage only; several amounts comma-separated, "
                             "`all` for all of it (default: all)")
    parser.add_argument("--name", default="bench_setting")
    args = parser.parse_args()
    tier, _, param = args.setting.partition(".")
    values = [_value(v) for v in args.values.split(",")]
    site = site_from(args, parser)
    amounts = _amounts(args.normal_seconds)
    runs = []
    try:
        for seconds in amounts:
            footage = first_seconds(site.footage, seconds, site.fps)
            for draw in range(args.draws):
                selection.DRAW = draw
                for value in values:
                    config = ScorerConfig(select=True, **{param: value}) if tier == "scorer" else \
                        ScorerConfig(select=True, params={tier: {param: value}})
                    scorer = Scorer.fit(footage, config, folder_fps=site.fps)
                    log = scorer.fit_info["selection"]
                    runs.append({"seconds": seconds, "draw": draw, "value": value, "chosen": describe(log["chosen"]),
                                 "auc": {describe(t): t["auc"] for t in log["tried"]},
                                 "chosen_per_kind": log["chosen"]["per_kind"]})
                    print(f"{_footage_name(seconds)} draw {draw} {args.setting}={value!s:6} chose "
                          f"{runs[-1]['chosen']:22s} " + " ".join(f"{k}={v}" for k, v in runs[-1]["auc"].items()),
                          flush=True)
    finally:
        selection.DRAW = 0  # the draw `fit` uses, whatever ended the runs
    sets = list(runs[0]["auc"])
    judged, others = values[0], values[1:]
    paired = {}
    for seconds in amounts:
        for other in others:
            for name in sets:
                gains = [_auc(runs, judged, seconds, d, name) - _auc(runs, other, seconds, d, name)
                         for d in range(args.draws)]
                footage_tag = "" if amounts == [None] else f" ({_footage_name(seconds)})"
                paired[f"{judged} vs {other}{footage_tag}: {name}"] = [round(g, 4) for g in gains]
    decided = verdict(runs, values, amounts, args.draws)
    described = ", ".join(f"the first {s:g} s of it" if s is not None else "all of it" for s in amounts)
    lines = [f"# Self-validation of {args.setting} on {site.name}", "",
             f"Synthetic AUC (mean over kinds) of every tier set self-validation tries, fitted on {described} with "
             f"each value, on {args.draws} draws of synthetic windows (draw 0 is the one `fit` uses). No test label "
             "is read.", "",
             "| footage | draw | value | chosen | " + " | ".join(sets) + " |", "|---|---|---|---|" + "---|" * len(sets)]
    lines += [f"| {_footage_name(r['seconds'])} | {r['draw']} | {r['value']} | {r['chosen']} | "
              + " | ".join(f"{r['auc'][n]:.4f}" for n in sets) + " |" for r in runs]
    lines += ["", "The chosen set's AUC per synthetic kind (a gain that sits in one kind may be that kind's artefact):",
              "", *per_kind_table(runs)]
    lines += ["", "Paired difference per draw (the first value minus the other, same windows):", ""]
    lines += [f"- {key}: {', '.join(f'{g:+.4f}' for g in gains)} (mean {np.mean(gains):+.4f})"
              for key, gains in paired.items()]
    lines += ["", "Verdict (another value replaces the first only if the set self-validation chooses with it scores "
              "higher on every draw with every amount of footage):", "", *decided]
    print("\n".join(lines[-len(paired) - len(decided) - 3:]))
    write_results(args.name, {"setting": args.setting, "site": site.name, "values": values, "draws": args.draws,
                              "normal_seconds": [_footage_name(s) for s in amounts], "runs": runs,
                              "paired_difference": paired, "verdict": decided}, "\n".join(lines), args.results)


if __name__ == "__main__":
    main()
