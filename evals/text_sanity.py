"""Sanity run of the explanation metrics on real text: CUVA references scored against themselves
must beat the same references scored against shuffled ones, on every metric.

    python evals/text_sanity.py --data DIR (or $VADAGENT_DATA) [--limit N]

The judge column uses a *scripted* judge model (`OverlapJudge` below, a deterministic stand-in
that rates by word overlap, answering in the JSON schema): it checks the judge's plumbing
(prompt, schema, validation, aggregation), not a real model's grading.
Writes evals/results/text_sanity.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import re

import numpy as np

from vadagent.evals.annotations import load_cuva
from vadagent.evals.common import add_data_argument, add_results_argument, write_results
from vadagent.evals.text_metrics import TEXT_METRICS, judge
from vadagent.tools.vlm.base import VLMClient
from vadagent.tools.vlm.types import Completion, Message, Sampling, Usage


class OverlapJudge(VLMClient):
    """Scripted judge: scores 1–5 from the word overlap of <reference> and <candidate>."""

    model = "scripted:overlap-judge"

    async def _complete_batch(self, conversations: list[list[Message]], schema: dict | None,
                              sampling: Sampling) -> list[Completion]:
        out = []
        for messages in conversations:
            text = messages[-1].text
            ref = set(re.findall(r"\w+", text.split("<reference>")[1].split("</reference>")[0].lower()))
            cand = set(re.findall(r"\w+", text.split("<candidate>")[1].split("</candidate>")[0].lower()))
            score = 1 + round(4 * len(ref & cand) / max(len(ref | cand), 1))
            answer = {k: score for k in ("consistency", "causal_explanation", "evidence_support", "logical_structure",
                                         "clarity")}
            out.append(Completion(json.dumps(answer), Usage()))
        return out



def sanity(references: list[str], metrics: dict, judge_client: VLMClient | None, seed: int = 0) -> dict:
    order = np.random.default_rng(seed).permutation(len(references))
    shuffled = [references[i] for i in np.roll(order, 1)[np.argsort(order)]]
    rows = {}
    for name, metric in metrics.items():
        rows[name] = {"self": metric(references, references), "shuffled": metric(references, shuffled)}
    if judge_client is not None:
        rows["judge_overall"] = {"self": judge(judge_client, references, references)["overall"],
                                 "shuffled": judge(judge_client, references, shuffled)["overall"]}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_argument(parser)
    add_results_argument(parser)
    parser.add_argument("--limit", type=int, default=None, help="references per aspect (default: all)")
    args = parser.parse_args()
    cuva = load_cuva(args.data / "annotations" / "cuva")
    results, lines = {}, ["# Explanation metrics: CUVA references vs themselves and vs shuffled references", "",
                          "| aspect | n | metric | self | shuffled | self wins |", "|---|---|---|---|---|---|"]
    for aspect in ("what", "why", "how"):
        references = list(getattr(cuva, aspect).values())[: args.limit]
        rows = sanity(references, TEXT_METRICS, OverlapJudge())
        results[aspect] = {"n": len(references), **rows}
        for metric, row in rows.items():
            wins = row["self"] > row["shuffled"]
            lines.append(f"| {aspect} | {len(references)} | {metric} | {row['self']:.4f} | {row['shuffled']:.4f} | "
                         f"{'yes' if wins else 'NO'} |")
            print(f"{aspect:5} {metric:14} self {row['self']:.4f}  shuffled {row['shuffled']:.4f}")
    lines += ["", "judge_overall uses a scripted word-overlap judge (plumbing check), not a real model."]
    print("written to", write_results("text_sanity", results, "\n".join(lines), args.results))


if __name__ == "__main__":
    main()
