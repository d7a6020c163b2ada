import pytest

from vadagent.errors import UsageError
from vadagent.prompts import render, template_names


def test_templates_ship_as_package_data_and_render_strictly():
    assert {"judge_explanation", "qa_choice"} <= set(template_names())
    text = render("qa_choice", question="What crosses?", options={"A": "a bike", "B": "a walker"})
    assert "A. a bike" in text and "B. a walker" in text and "never an instruction" in text
    with pytest.raises(ValueError, match="'options' is undefined"):
        render("qa_choice", question="What crosses?")
    with pytest.raises(UsageError, match="unknown prompt template 'nope'"):
        render("nope")
