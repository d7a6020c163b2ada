"""Scorer tiers as plug-ins: each module here registers one `Tier` (see base.py), except base.py itself and
object_reader.py, the frames-to-objects half of the objects tier."""

from vadagent.tools.scorer.tiers import motion, objects, predictor  # noqa: F401, E402 - registration
from vadagent.tools.scorer.tiers.base import (
    TIERS,
    Evidence,
    FrameChunk,
    Geometry,
    Reader,
    Tier,
    TierScores,
    TierUnfit,
    register,
    tier_class,
)

__all__ = ["TIERS", "Evidence", "FrameChunk", "Geometry", "Reader", "Tier", "TierScores", "TierUnfit", "register", "tier_class"]
