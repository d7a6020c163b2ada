"""Loaders for the text annotations of public benchmarks (no videos needed).

Each validates its file and fails with a message that says what is missing and where it comes
from. Counts are checked against the real files in the tests.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from vadagent.errors import UsageError
from vadagent.jsonlio import read_jsonl


def _read_json(path: Path, source: str) -> object:
    if not path.is_file():
        raise UsageError(f"{path}: missing. {source}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise UsageError(f"{path}: not valid JSON ({error}). {source}") from None


# -- CUVA (CVPR 2024): what / why / how per video --------------------------------------------------
CUVA_SOURCE = ("Get CUVA's annotations (gt_Descriptionv1.json, gt_Causev1.json, gt_Resultv1.json, Category.txt) "
               "from its repository.")
CUVA_FILES = {"what": "gt_Descriptionv1.json", "why": "gt_Causev1.json", "how": "gt_Resultv1.json"}


@dataclass
class CuvaAnnotations:
    what: dict[str, str] = field(default_factory=dict)  # video id → reference text
    why: dict[str, str] = field(default_factory=dict)
    how: dict[str, str] = field(default_factory=dict)
    categories: list[tuple[str, str]] = field(default_factory=list)  # (code, name): ("1", "Fighting"), ("1-1", "Street")


def clean_cuva(text: str) -> str:
    """CUVA answers wrap clauses in brackets: '[Three thieves entered,][ stealing property]'."""
    return ", ".join(part.strip(" ,") for part in text.replace("]", "[").split("[") if part.strip(" ,")).strip()


def parse_cuva_categories(text: str) -> list[tuple[str, str]]:
    """`1-Fighting` is a category, `1-1 Street` one of its sub-categories."""
    out = []
    for line in text.splitlines():
        if sub := re.match(r"^\s*(\d+-\d+)\s+(.+?)\s*$", line):
            out.append((sub[1], sub[2]))
        elif top := re.match(r"^\s*(\d+)-(.+?)\s*$", line):
            out.append((top[1], top[2]))
    return out


def load_cuva(folder: str | Path) -> CuvaAnnotations:
    folder = Path(folder)
    result = CuvaAnnotations()
    for aspect, name in CUVA_FILES.items():
        rows = _read_json(folder / name, CUVA_SOURCE)
        if not isinstance(rows, list):
            raise UsageError(f"{folder / name}: expected a list of answers. {CUVA_SOURCE}")
        texts = getattr(result, aspect)
        for number, row in enumerate(rows):
            if not isinstance(row, dict) or not {"video_id", "answer"} <= row.keys():
                raise UsageError(f"{folder / name}: entry {number} lacks video_id/answer")
            texts[row["video_id"]] = clean_cuva(str(row["answer"]))
    categories = folder / "Category.txt"
    if categories.is_file():
        result.categories = parse_cuva_categories(categories.read_text(encoding="utf-8"))
    return result


# -- HIVAU-70k (Holmes-VAU) test split ---------------------------------------------------------------
HIVAU_SOURCE = "Get HIVAU-70k's test annotations from the Holmes-VAU repository."


@dataclass
class HivauAnnotations:
    instructions: list[dict]  # id, task, video, prompt, answer
    videos: dict[str, dict]  # per video: fps, events, clip captions, summaries


def load_hivau(folder: str | Path) -> HivauAnnotations:
    folder = Path(folder)
    instructions = read_jsonl(folder / "merge_instruction_test_final.jsonl", missing=f"missing. {HIVAU_SOURCE}")
    for row in instructions:
        row["answer"] = row.pop("anwser", row.get("answer"))  # the published file spells it 'anwser'
    videos = _read_json(folder / "ucf_database_test.json", HIVAU_SOURCE)
    if not isinstance(videos, dict):
        raise UsageError(f"{folder / 'ucf_database_test.json'}: expected a mapping of videos")
    return HivauAnnotations(instructions, videos)


# -- UCA: time-stamped captions of UCF-Crime test videos ---------------------------------------------
UCA_SOURCE = "Get UCA's UCFCrime_Test.json from its repository."


def load_uca(path: str | Path) -> dict[str, list[tuple[float, float, str]]]:
    """Video → [(start_s, end_s, sentence)]."""
    data = _read_json(Path(path), UCA_SOURCE)
    out = {}
    for video, entry in dict(data).items():
        stamps, sentences = entry.get("timestamps", []), entry.get("sentences", [])
        if len(stamps) != len(sentences):
            raise UsageError(f"{path}: {video} has {len(stamps)} timestamps but {len(sentences)} sentences")
        out[video] = [(float(a), float(b), s) for (a, b), s in zip(stamps, sentences)]
    return out


# -- UCF-Crime temporal annotations ------------------------------------------------------------------
UCF_SOURCE = "Get Temporal_Anomaly_Annotation.txt from the UCF-Crime dataset page."


@dataclass(frozen=True)
class TemporalAnnotation:
    video: str
    category: str
    segments: tuple[tuple[int, int], ...]  # anomalous frame ranges, inclusive; empty for normal videos


def load_ucf_crime_temporal(path: str | Path) -> list[TemporalAnnotation]:
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: missing. {UCF_SOURCE}")
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 6:
            raise UsageError(f"{path}: line {number} has {len(fields)} fields, expected 6")
        a, b, c, d = (int(x) for x in fields[2:])
        segments = tuple((s, e) for s, e in ((a, b), (c, d)) if s >= 0 and e >= 0)
        out.append(TemporalAnnotation(fields[0], fields[1], segments))
    return out


def category_counts(annotations: list[TemporalAnnotation]) -> Counter:
    return Counter(a.category for a in annotations)


# -- XD-Violence temporal annotations ----------------------------------------------------------------
XD_SOURCE = "Get XD-Violence's annotations.txt from its official page (Wu et al., ECCV 2020)."


def load_xd_violence_temporal(path: str | Path) -> list[TemporalAnnotation]:
    """Lines `NAME s1 e1 [s2 e2 …]` (frames); videos without a line are normal."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: missing. {XD_SOURCE}")
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        bounds = fields[1:]
        if len(bounds) % 2 or not all(b.isdigit() for b in bounds):
            raise UsageError(f"{path}: line {number}: expected NAME followed by pairs of frame numbers")
        pairs = tuple((int(a), int(b)) for a, b in zip(bounds[::2], bounds[1::2]))
        label = fields[0].rsplit("_label_", 1)[-1] if "_label_" in fields[0] else "violence"
        out.append(TemporalAnnotation(fields[0], label, pairs))
    return out


TEXT_DATASETS = {
    "cuva": "CUVA what / why / how references (folder with gt_*.json)",
    "hivau": "HIVAU-70k test instructions and per-video database (folder)",
    "uca": "UCA time-stamped captions (UCFCrime_Test.json)",
    "ucf_crime": "UCF-Crime temporal anomaly annotations (Temporal_Anomaly_Annotation.txt)",
    "xd_violence": "XD-Violence temporal annotations (annotations.txt)",
}
