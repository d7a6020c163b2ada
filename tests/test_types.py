import json

import pytest
from pydantic import ValidationError

from vadagent.rules import Rule, RuleKind, RuleSet
from vadagent.schema import SCHEMAS, json_schema
from vadagent.taxonomy import load_taxonomy
from vadagent.types import (
    AnomalyEvent,
    Candidate,
    FrameScores,
    Relation,
    ScorerSummary,
    VideoInfo,
    VideoReport,
)

TAXONOMY = load_taxonomy("generic")


def event(**changes) -> dict:
    data = {
        "id": "e1", "start_s": 2.0, "end_s": 4.5, "category": "motion", "label": "bike on footpath",
        "what": "a cyclist crosses the walkway", "cause": "shortcut", "effect": "walkers step aside",
        "severity": 2, "confidence": 0.8, "evidence_frames": [2.0, 3.1, 4.4], "verdict": "confirmed",
        "relations": [{"subject": "object 3", "predicate": "moves faster than", "object": "walkers",
                       "start_s": 2.0, "end_s": 4.0}],
    }
    return data | changes


def report(events: list[dict]) -> VideoReport:
    return VideoReport(
        video=VideoInfo(path="a.mp4", fps=25, frame_count=250, width=320, height=240),
        scorer=ScorerSummary(scorer_id="motion", fps=25, candidates=[
            Candidate(start_s=1, end_s=5, peak_s=3, peak_score=4.2, start_frame=25, end_frame=125)]),
        events=[AnomalyEvent.model_validate(e) for e in events],
        taxonomy=TAXONOMY,
        rules=RuleSet(scene="footpath", rules=[Rule(id="n1", text="people walk along the path", kind=RuleKind.NORMAL)]),
    )


@pytest.mark.parametrize("model, value", [
    (VideoInfo, VideoInfo(path="x.mp4", fps=27.0, frame_count=2730, width=852, height=480, codec="hevc")),
    (FrameScores, FrameScores(scorer_id="m", fps=10, scores=[0.1, 0.5, 3.0], smoothing_sigma=3)),
    (Relation, Relation(subject="a", predicate="meets", object="b", start_s=1, end_s=2)),
    (AnomalyEvent, AnomalyEvent.model_validate(event())),
])
def test_round_trip(model, value):
    assert model.model_validate_json(value.model_dump_json()) == value


def test_report_round_trip_and_schema_version():
    original = report([event(matched_rules=["n1"])])
    text = original.model_dump_json()
    assert json.loads(text)["schema_version"] == "1.0"
    assert VideoReport.model_validate_json(text) == original


def test_severity_out_of_range_is_rejected_readably():
    with pytest.raises(ValidationError, match=r"severity must be 0–4.*got 7"):
        AnomalyEvent.model_validate(event(severity=7))


def test_end_before_start_is_rejected():
    with pytest.raises(ValidationError, match=r"end \(1 s\) is before start \(2 s\)"):
        AnomalyEvent.model_validate(event(end_s=1.0))
    with pytest.raises(ValidationError, match="peak"):
        Candidate(start_s=1, end_s=2, peak_s=3, peak_score=1, start_frame=1, end_frame=2)


def test_unknown_taxonomy_id_is_rejected_with_the_valid_ids():
    with pytest.raises(ValidationError, match=r"unknown taxonomy id 'arson'.*valid ids: normal, motion"):
        AnomalyEvent.model_validate(event(category="arson"), context={"taxonomy": TAXONOMY})
    with pytest.raises(ValidationError, match="unknown taxonomy id 'arson'"):
        report([event(category="arson")])


def test_report_rejects_unknown_rule_ids_and_events_past_the_end():
    with pytest.raises(ValidationError, match=r"unknown rule ids \['x9'\]"):
        report([event(matched_rules=["x9"])])
    with pytest.raises(ValidationError, match="after the video"):
        report([event(end_s=99.0)])


def test_unknown_fields_are_errors():
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        AnomalyEvent.model_validate(event(colour="red"))


def test_every_schema_is_valid_json_schema():
    for name in SCHEMAS:
        schema = json_schema(name)
        assert schema["type"] == "object" and schema["properties"]


def test_shipped_taxonomies():
    from vadagent.taxonomy import shipped_taxonomies

    assert set(shipped_taxonomies()) >= {"generic", "ucf_crime", "cuva", "smarthome"}
    assert len(load_taxonomy("ucf_crime").ids) == 13 + 1  # 13 classes + normal
    cuva = load_taxonomy("cuva")
    assert len(cuva.children(None)) == 11 + 1 and len([c for c in cuva.categories if c.parent]) == 42
    assert len(load_taxonomy("smarthome").ids) == 7 + 1


def test_taxonomy_yaml_errors_give_line_numbers(tmp_path):
    from vadagent.errors import UsageError
    from vadagent.taxonomy import Taxonomy

    bad = tmp_path / "t.yaml"
    bad.write_text("name: mine\ncategories:\n  - id: normal\n    name: Normal\n    definition: fine\n    colour: red\n")
    with pytest.raises(UsageError, match=r"line 6: categories.0.colour: Extra inputs are not permitted"):
        Taxonomy.from_yaml(bad)
