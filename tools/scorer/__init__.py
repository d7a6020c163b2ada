"""Self-supervised frame scorer (tier 0 motion statistics, tier 1 frame prediction) and candidates."""

from vadagent.tools.scorer.candidates import call_budget, pick_candidates
from vadagent.tools.scorer.scorer import Scorer, ScorerConfig, ScoreResult, SourceSpec

__all__ = ["ScoreResult", "Scorer", "ScorerConfig", "SourceSpec", "call_budget", "pick_candidates"]
