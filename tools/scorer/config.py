"""A scorer's settings: which tiers it fuses and how, and how it reads frames. Checked when made, so a
typo in a site's settings is one clear error before any footage is read."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from vadagent.errors import UsageError
from vadagent.tools.scorer.frames import DEFAULT_FLOW, check_flow
from vadagent.tools.scorer.tiers import TIERS, Tier, tier_class

DEFAULT_TIERS = ("motion", "objects")


@dataclass
class ScorerConfig:
    tiers: list[str] = field(default_factory=lambda: list(DEFAULT_TIERS))  # with `select`: the candidates
    weights: dict[str, float] = field(default_factory=dict)  # fusion weight per tier (default 1)
    params: dict[str, dict] = field(default_factory=dict)  # per-tier settings (each tier's Params)
    # choose tiers and weights by self-validation; None: when there is a choice (several tiers) and at
    # least scorer.AUTO_SELECT_S seconds of normal footage (or of a video's opening standing in for it)
    select: bool | None = None
    budget_s: float = 300.0  # training time of a learned tier
    max_side: int = 360
    flow: str = DEFAULT_FLOW  # optical-flow preset (frames.FLOW_PRESETS)
    median_window: int = 3
    threshold_percentile: float = 99.5
    chunk_frames: int = 64
    max_footage_s: float = 3600.0  # more normal footage is thinned to evenly spread stretches (see thinned)
    cover_display: bool = True  # a camera's burned-in clock, found in the normal footage, covered (overlay.py)

    def __post_init__(self) -> None:
        if not self.tiers:
            raise UsageError("a scorer needs at least one tier; available: " + ", ".join(TIERS))
        for name in [*self.tiers, *self.weights, *self.params]:
            tier_class(name)
        for name, values in self.params.items():
            known = {f.name for f in fields(tier_class(name).Params)}
            if set(values) - known:
                raise UsageError(f"unknown setting(s) {', '.join(sorted(set(values) - known))} of scorer tier {name}; "
                                 f"it has: {', '.join(sorted(known))}")
        check_flow(self.flow)
        if self.median_window < 1 or self.median_window % 2 == 0:
            raise UsageError(f"median_window must be a positive odd number of frames, not {self.median_window}")

    def flow_for(self, tiers: dict[str, Tier]) -> str | None:
        """The flow preset to compute, or None when none of `tiers` reads flow."""
        return self.flow if any(t.needs_flow for t in tiers.values()) else None

    def weight(self, name: str) -> float:
        return float(self.weights.get(name, 1.0))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ScorerConfig:
        return cls(**data)
