"""The `eval list | qa | explain | severity` commands (detection lives in scoring.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from rich.console import Console

from vadagent.config import Settings
from vadagent.errors import UsageError
from vadagent.evals.common import write_results
from vadagent.jsonlio import read_jsonl


def _sha256(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _jsonl(path: Path, required: set[str]) -> list[dict]:
    rows = read_jsonl(path)
    for number, row in enumerate(rows, 1):
        if not required <= row.keys():
            raise UsageError(f"{path}: record {number} needs the fields {sorted(required)}")
    if not rows:
        raise UsageError(f"{path}: empty")
    return rows


def list_command(out: Console) -> None:
    from vadagent.evals.annotations import TEXT_DATASETS
    from vadagent.evals.datasets import FRAME_DATASETS

    out.print("detection (frame labels; vadagent eval detect --dataset NAME --root PATH):")
    for name, (_, source) in FRAME_DATASETS.items():
        out.print(f"  {name}: {source}", highlight=False, markup=False)  # "[first; last]" is no markup tag
    out.print("text annotations (vadagent.evals.annotations):")
    for name, what in TEXT_DATASETS.items():
        out.print(f"  {name}: {what}")
    out.print("other: qa FILE (multiple-choice JSONL), explain PRED (against CUVA), severity FILE")


def _report(name: str, result: dict, title: str, out: Console, as_json: bool, results: Path | None) -> None:
    keys = [k for k, v in result.items() if isinstance(v, int | float | str) and k not in ("command",)]
    markdown = "\n".join([f"# {title}", "", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys),
                          "| " + " | ".join(str(result[k]) for k in keys) + " |"])
    written = write_results(name, result, markdown, results)
    if as_json:
        out.print_json(json.dumps(result))
    else:
        out.print(markdown)
        out.print(f"written to {written}")


def qa_command(settings: Settings, file: Path, vlm: str, as_json: bool, results: Path | None, out: Console) -> dict:
    from vadagent.evals.qa import load_qa, run_qa
    from vadagent.tools.vlm import client_from_settings

    items = load_qa(file)
    client = client_from_settings(vlm, settings.vlm)
    result = run_qa(items, client) | {"data_sha256": _sha256(file), "file": str(file)}
    _report(f"qa_{file.stem}", result, f"Multiple-choice Q&A on {file.name}", out, as_json, results)
    return result


def explain_command(settings: Settings, predictions: Path, aspect: str, root: Path, judge_spec: str | None,
                    as_json: bool, results: Path | None, out: Console) -> dict:
    from vadagent.evals.annotations import CUVA_FILES, load_cuva
    from vadagent.evals.text_metrics import TEXT_METRICS, judge

    if aspect not in CUVA_FILES:
        raise UsageError(f"unknown aspect {aspect!r}; use one of {', '.join(CUVA_FILES)}")
    references = getattr(load_cuva(root), aspect)
    rows = _jsonl(predictions, {"video_id", "text"})
    missing = [r["video_id"] for r in rows if r["video_id"] not in references]
    if missing:
        raise UsageError(f"{predictions}: {len(missing)} video ids have no CUVA reference, e.g. {missing[:3]}")
    hyps, refs = [str(r["text"]) for r in rows], [references[r["video_id"]] for r in rows]
    result: dict = {"aspect": aspect, "n": len(rows), "data_sha256": _sha256(predictions, root / CUVA_FILES[aspect])}
    result |= {name: round(metric(hyps, refs), 4) for name, metric in TEXT_METRICS.items()}
    if judge_spec:
        from vadagent.tools.vlm import client_from_settings

        scores = judge(client_from_settings(judge_spec, settings.vlm), hyps, refs, aspect)
        from vadagent.prompts import PROMPTS_VERSION

        result |= {f"judge_{k}": round(v, 4) for k, v in scores.items()}
        result |= {"judge_model": judge_spec, "prompts_version": PROMPTS_VERSION}
    _report(f"explain_{predictions.stem}_{aspect}", result, f"Explanations ({aspect}) against CUVA", out, as_json, results)
    return result


def severity_command(file: Path, as_json: bool, results: Path | None, out: Console) -> dict:
    from vadagent.evals.text_metrics import severity_agreement

    rows = _jsonl(file, {"predicted", "reference"})
    try:
        pairs = [(int(r["predicted"]), int(r["reference"])) for r in rows]
    except (TypeError, ValueError) as error:
        raise UsageError(f"{file}: severities must be integers 0–4 ({error})") from None
    if any(not (0 <= p <= 4 and 0 <= r <= 4) for p, r in pairs):
        raise UsageError(f"{file}: severities must lie in 0–4")
    result = {"n": len(pairs), "data_sha256": _sha256(file)}
    result |= {k: round(v, 4) for k, v in severity_agreement([p for p, _ in pairs], [r for _, r in pairs]).items()}
    _report(f"severity_{file.stem}", result, f"Severity agreement on {file.name}", out, as_json, results)
    return result
