import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from vadagent.errors import ArtifactError, UsageError
from vadagent.tools.scorer import Scorer, ScorerConfig, SourceSpec
from vadagent.tools.scorer.net import PredictorConfig


@pytest.fixture(scope="module")
def fitted(synthetic_normal):
    return Scorer.fit([SourceSpec(str(synthetic_normal))])


def test_scorer_separates_the_synthetic_anomalies(fitted, synthetic_anomalous):
    path, truth = synthetic_anomalous
    result = fitted.score(path)
    assert len(result.scores) == truth.frame_count
    assert roc_auc_score(truth.labels, result.scores) > 0.8
    labels = np.asarray(truth.labels)
    normal = result.scores[labels == 0]
    for event in truth.events:  # every kind stands out from the normal frames of the same clip
        inside = result.scores[event["start_frame"] : event["end_frame"] + 1]
        assert np.percentile(inside, 90) > np.percentile(normal, 90), event["kind"]
    fast = next(e for e in truth.events if e["kind"] == "fast")
    assert result.scores[fast["start_frame"] : fast["end_frame"] + 1].max() > result.threshold


def test_calibration_is_causal_and_normal_footage_stays_low(fitted, synthetic_normal):
    result = fitted.score(synthetic_normal)
    assert np.mean(result.scores > result.threshold) < 0.02
    assert abs(float(np.mean(result.scores))) < 0.5  # z-units of the normal distribution


def test_evidence_points_at_the_fast_object(fitted, synthetic_anomalous):
    path, truth = synthetic_anomalous
    result = fitted.score(path)
    fast = next(e for e in truth.events if e["kind"] == "fast")
    frame = fast["start_frame"] + (fast["end_frame"] - fast["start_frame"]) // 2
    assert result.evidence.vs_normal[frame] > 1.5
    assert 0 <= result.evidence.direction_deg[frame] < 45 or result.evidence.direction_deg[frame] > 315  # rightwards


def test_save_load_round_trip_and_time_ranges(tmp_path, fitted, synthetic_normal, synthetic_anomalous):
    fitted.save(tmp_path / "scorer")
    loaded = Scorer.load(tmp_path / "scorer")
    path, _ = synthetic_anomalous
    assert np.allclose(loaded.score(path).scores, fitted.score(path).scores)
    part = Scorer.fit([SourceSpec.parse(f"{synthetic_normal}#t=2,6")])
    assert part.fit_info["frames"] == 100


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "scorer.json").write_text("{not json"), "corrupt scorer config"),
    (lambda d: (d / "scorer.json").write_text(json.dumps({"artifact": "vadagent-scorer", "version": 99})),
     "version 99 is not supported"),
    (lambda d: (d / "scorer.safetensors").write_bytes(b"\x00" * 10), "corrupt or incompatible"),
    (lambda d: (d / "scorer.safetensors").unlink(), "not a scorer folder"),
])
def test_broken_artefacts_fail_clearly(tmp_path, fitted, damage, message):
    folder = fitted.save(tmp_path / "scorer")
    damage(folder)
    with pytest.raises(ArtifactError, match=message):
        Scorer.load(folder)


def test_source_spec_parsing():
    assert SourceSpec.parse("a.mp4#t=0,20") == SourceSpec("a.mp4", 0.0, 20.0)
    assert SourceSpec.parse("a.mp4#t=5") == SourceSpec("a.mp4", 5.0, None)
    assert SourceSpec.parse("frames/01") == SourceSpec("frames/01")
    with pytest.raises(UsageError, match="ends"):
        SourceSpec.parse("a.mp4#t=9,3")


def test_tier1_trains_saves_and_loads(tmp_path, synthetic_normal, synthetic_anomalous):
    config = ScorerConfig(tier=1, tier1=PredictorConfig(width=48, height=32, channels=8), tier1_epochs=1)
    scorer = Scorer.fit([SourceSpec.parse(f"{synthetic_normal}#t=0,8")], config)
    assert sum(p.numel() for p in scorer.predictor.parameters()) < 2_000_000
    path, truth = synthetic_anomalous
    scores = scorer.score(path).scores
    assert len(scores) == truth.frame_count and np.isfinite(scores).all()
    loaded = Scorer.load(scorer.save(tmp_path / "tier1"))
    assert np.allclose(loaded.score(path).scores, scores, atol=1e-4)
