"""Self-supervised frame scorer (tiers fused and calibrated on a site's normal footage) and candidates."""

from vadagent.tools.scorer.candidates import CandidatePolicy, call_budget, pick_candidates
from vadagent.tools.scorer.footage import SourceSpec
from vadagent.tools.scorer.result import ScoreResult
from vadagent.tools.scorer.scorer import Scorer, ScorerConfig

__all__ = ["CandidatePolicy", "ScoreResult", "Scorer", "ScorerConfig", "SourceSpec", "call_budget", "pick_candidates"]
