"""Issue 8: annotation loaders on the real files, metrics by hand, sanity of the text metrics."""

import json
import sys
from pathlib import Path

import pytest
from inprocess import invoke

from vadagent.errors import UsageError
from vadagent.evals import annotations as ann
from vadagent.evals.text_metrics import bleu, embedding_similarity, judge, rouge_l, severity_agreement


@pytest.fixture(scope="module")
def annotations(shared_data):
    return shared_data / "annotations"


def test_loaders_parse_the_real_annotations_completely(annotations):
    cuva = ann.load_cuva(annotations / "cuva")
    assert (len(cuva.what), len(cuva.why), len(cuva.how)) == (1000, 980, 1000)
    assert len([c for c, _ in cuva.categories if "-" not in c]) == 11 and len(cuva.categories) == 11 + 42
    assert cuva.what["00001.mp4"].startswith("Three masked thieves entered the house") and "[" not in cuva.what["00001.mp4"]
    hivau = ann.load_hivau(annotations / "hivau")
    assert len(hivau.instructions) == 3339 and len(hivau.videos) == 251
    assert all(row["answer"] for row in hivau.instructions)
    uca = ann.load_uca(annotations / "uca" / "UCFCrime_Test.json")
    assert len(uca) == 310 and all(a <= b for clips in uca.values() for a, b, _ in clips)
    ucf = ann.load_ucf_crime_temporal(annotations / "Temporal_Anomaly_Annotation.txt")
    assert len(ucf) == 290 and ann.category_counts(ucf)["Normal"] == 150
    assert ucf[0].segments == ((165, 240),) and all(not a.segments for a in ucf if a.category == "Normal")


def test_loaders_say_what_is_missing(tmp_path):
    with pytest.raises(UsageError, match="gt_Descriptionv1.json: missing. Get CUVA"):
        ann.load_cuva(tmp_path)
    (tmp_path / "t.txt").write_text("Abuse028_x264  Abuse  165  240\n")
    with pytest.raises(UsageError, match="line 1 has 4 fields, expected 6"):
        ann.load_ucf_crime_temporal(tmp_path / "t.txt")
    (tmp_path / "xd.txt").write_text("v1_label_B1 10 20 30 40\nv2_label_G 5\n")
    with pytest.raises(UsageError, match="line 2"):
        ann.load_xd_violence_temporal(tmp_path / "xd.txt")


def test_text_metrics_by_hand():
    assert bleu(["a b c d e"], ["a b c d e"]) == pytest.approx(1.0)
    assert bleu(["a b c d e"], ["v w x y z"]) == pytest.approx(0.0)
    # LCS("the cat sat", "the cat ran") = 2 → P = R = 2/3 → F1 = 2/3
    assert rouge_l(["the cat sat"], ["the cat ran"]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="equal, non-empty"):
        rouge_l(["a"], [])


def test_severity_metrics_by_hand():
    result = severity_agreement([0, 1, 2, 4], [0, 1, 3, 4])
    assert result["exact"] == 0.75 and result["within_one"] == 1.0 and result["mean_absolute_error"] == 0.25
    assert result["spearman"] == pytest.approx(1.0)  # same order
    perfect = severity_agreement([0, 2, 4], [0, 2, 4])
    assert perfect["quadratic_kappa"] == pytest.approx(1.0) and perfect["kendall_tau_b"] == pytest.approx(1.0)


@pytest.mark.slow  # ≈12 s: the metrics' sanity on real text, as evals/text_sanity.py runs it
def test_sanity_self_beats_shuffled_on_real_cuva_text(annotations):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evals"))
    from text_sanity import OverlapJudge, sanity

    references = list(ann.load_cuva(annotations / "cuva").why.values())[:100]
    rows = sanity(references, {"bleu": bleu, "rouge_l": rouge_l, "embedding": embedding_similarity}, OverlapJudge())
    assert set(rows) == {"bleu", "rouge_l", "embedding", "judge_overall"}
    for metric, row in rows.items():
        assert row["self"] > row["shuffled"], metric


def test_judge_reports_failed_judgements(tmp_path):
    from vadagent.tools.vlm import make_client

    script = tmp_path / "judge.jsonl"
    good = {"consistency": 4, "causal_explanation": 3, "evidence_support": 4, "logical_structure": 5, "clarity": 4}
    script.write_text("\n".join(json.dumps({"text": json.dumps(x)}) for x in [good] + [{"consistency": 9}] * 3) + "\n")
    result = judge(make_client(f"replay:{script}"), ["a", "b"], ["a", "c"])
    assert result["consistency"] == 4 and result["overall"] == pytest.approx(4.0) and result["failed"] == 1


def run(*args):
    return invoke(*args)


def test_eval_qa_with_a_replay_model(tmp_path):
    from vadagent.samples import sample_clip

    qa = tmp_path / "qa.jsonl"
    items = [{"video": str(sample_clip()), "question": "What crosses the path at 17 s?", "start_s": 16, "end_s": 20,
              "options": {"A": "a walker", "B": "a fast object", "C": "a car", "D": "nothing"}, "answer": "B"},
             {"video": str(sample_clip()), "question": "Is anyone standing still?",
              "options": {"A": "yes", "B": "no"}, "answer": "A"}]
    qa.write_text("\n".join(json.dumps(i) for i in items) + "\n")
    answers = tmp_path / "answers.jsonl"
    answers.write_text("\n".join(json.dumps({"text": t}) for t in ['{"answer": "B"}', '{"answer": "C"}', '{"answer": "B"}']))
    result = run("eval", "qa", str(qa), "--vlm", f"replay:{answers}", "--json", "--results", str(tmp_path))
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    # the 2nd question offered only A/B: "C" is fed back as invalid, and the retry answers "B" (wrong)
    assert figures["accuracy"] == 0.5 and figures["correct"] == 1 and figures["data_sha256"]
    assert (tmp_path / "qa_qa.md").is_file()


@pytest.mark.slow  # 14 s of sentence embeddings; the metrics themselves are tested above
def test_eval_explain_and_severity_commands(tmp_path, annotations):
    cuva = ann.load_cuva(annotations / "cuva")
    predictions = tmp_path / "pred.jsonl"
    predictions.write_text("\n".join(json.dumps({"video_id": k, "text": v}) for k, v in list(cuva.what.items())[:20]))
    result = run("eval", "explain", str(predictions), "--aspect", "what", "--root", str(annotations / "cuva"),
                 "--json", "--results", str(tmp_path))
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["bleu"] == pytest.approx(1.0) and figures["n"] == 20
    severity = tmp_path / "sev.jsonl"
    severity.write_text("\n".join(json.dumps({"predicted": p, "reference": r}) for p, r in [(0, 0), (2, 3), (4, 4)]))
    result = run("eval", "severity", str(severity), "--json", "--results", str(tmp_path))
    assert result.returncode == 0 and json.loads(result.stdout)["exact"] == pytest.approx(2 / 3, abs=1e-4)
    severity.write_text('{"predicted": 7, "reference": 1}\n')
    assert run("eval", "severity", str(severity)).returncode == 2


def test_eval_list():
    result = run("eval", "list")
    assert result.returncode == 0 and "ucsd_ped2" in result.stdout and "cuva" in result.stdout
    shown = " ".join(result.stdout.split())  # where each comes from, in which layouts, its brackets as written
    assert "UCSDpedN/Test/UCSDpedN.m" in shown and "gt: [first; last] frame ranges" in shown


def test_results_go_to_the_working_directory_not_the_package(tmp_path, monkeypatch):
    from vadagent.evals.common import write_results

    monkeypatch.chdir(tmp_path)
    written = write_results("probe", {"x": 1}, "# probe")
    assert written == tmp_path / "evals" / "results" / "probe.md"
    assert json.loads(written.with_suffix(".json").read_text())["x"] == 1
    assert write_results("probe", {}, "", tmp_path / "elsewhere").parent == tmp_path / "elsewhere"


def test_a_setting_replaces_the_shipped_one_only_if_it_wins_on_every_draw_with_every_amount_of_footage():
    """bench_setting's verdict: a value replaces the first (shipped) one only if the set self-validation
    chooses with it scores higher on every draw, with all the footage and with little of it alike."""
    from vadagent.evals.bench_setting import verdict

    def run(value, seconds, draw, chosen_auc, other_auc=0.5):
        return {"value": value, "seconds": seconds, "draw": draw, "chosen": "motion+objects ×2",
                "auc": {"motion": other_auc, "motion+objects ×2": chosen_auc}}

    shipped = [run(24, s, d, 0.90) for s in (None, 30.0) for d in range(2)]
    better = [run(16, s, d, 0.91) for s in (None, 30.0) for d in range(2)]
    worse_with_little = [run(32, None, d, 0.91) for d in range(2)] + [run(32, 30.0, 0, 0.91), run(32, 30.0, 1, 0.89)]
    lines = verdict(shipped + better + worse_with_little, [24, 16, 32], [None, 30.0], 2)
    assert "16 replaces 24: **yes**" in lines[0] and "30 s: +0.0100, +0.0100" in lines[0]
    assert "32 replaces 24: **no**" in lines[1] and "30 s: +0.0100, -0.0100" in lines[1]
    assert "**no**" in verdict(shipped + [run(16, s, d, 0.90) for s in (None, 30.0) for d in range(2)],
                               [24, 16], [None, 30.0], 2)[0]  # a tie is no win


def test_a_settings_per_kind_table_shows_a_kind_that_little_footage_could_not_hold():
    """15 s of Ped2's footage holds out no sped-up window: its runs say "–" there instead of stopping the bench."""
    from vadagent.evals.bench_setting import per_kind_table

    runs = [{"seconds": 30.0, "draw": 0, "value": "a", "chosen_per_kind": {"still_object": 0.9, "speed_up": 0.8}},
            {"seconds": 15.0, "draw": 0, "value": "a", "chosen_per_kind": {"still_object": 0.85}}]
    header, _, thirty, fifteen = per_kind_table(runs)
    assert header == "| footage | draw | value | still_object | speed_up |"
    assert thirty == "| 30 s | 0 | a | 0.9000 | 0.8000 |" and fifteen == "| 15 s | 0 | a | 0.8500 | – |"


def test_label_free_benches_take_another_sites_footage_and_say_what_it_lacks(tmp_path):
    """`--footage` (bench_setting, bench_selection): another site's normal videos or frame folders
    instead of Ped2's training clips; a path that is not there, or a frame folder without a frame
    rate, is refused with what to give."""
    from vadagent.errors import UsageError
    from vadagent.evals.common import footage_site

    video, folder = tmp_path / "shop.mp4", tmp_path / "frames"
    video.write_bytes(b"")
    folder.mkdir()
    site = footage_site([video, folder], 10.0)
    assert site.footage == [video, folder] and site.fps == 10.0 and "shop.mp4" in site.name
    with pytest.raises(UsageError, match="give --fps"):
        footage_site([folder], None)
    with pytest.raises(UsageError, match="no such video"):
        footage_site([tmp_path / "gone.mp4"], None)


def test_the_span_judge_reads_its_footage_then_its_windows_and_leaves_out_the_frames_after_each_cut(tmp_path):
    """bench_span_choice's judge: one frame folder of the judge's footage and synthetic windows made from it,
    labelled as made, the frames just after each cut not counted; a rule's choice by selection's own tie rule."""
    import numpy as np

    from vadagent.evals.bench_span_choice import CUT, judge_folder
    from vadagent.evals.common import Site
    from vadagent.tools.scorer.selection import LEAD, TIE, simplest_best
    from vadagent.tools.synthetic import ClipSpec, render_clip

    clip = tmp_path / "site.mp4"
    render_clip(ClipSpec(seconds=6, fps=10, seed=3), clip)
    folder, labels, counted = judge_folder(Site("a site", [clip], 10.0), 2.0, (160, 120), tmp_path / "judge")
    assert len(list(folder.glob("*.png"))) == len(labels) == len(counted) and labels[:40].sum() == 0  # footage first
    assert labels.sum() > 0 and not counted[:CUT].any() and counted[CUT:40].all()
    starts = np.flatnonzero(np.diff(labels.astype(int), prepend=0) == 1) - LEAD  # where each window begins
    assert all(not counted[s : s + CUT].any() and counted[s + CUT] for s in starts if s >= 40)
    def entry(auc: float, weight: float) -> dict:
        return {"tiers": ["motion", "objects"], "weights": {"motion": 1.0, "objects": weight}, "auc": auc}

    assert simplest_best([entry(0.90, 2.0), entry(0.90 - TIE / 2, 1.0)])["weights"]["objects"] == 1.0  # a tie
    assert simplest_best([entry(0.90, 2.0), entry(0.90 - 2 * TIE, 1.0)])["weights"]["objects"] == 2.0


def test_ped2_travels_to_a_device_machine_as_h264_and_comes_back_as_its_frame_folders(tmp_path, ped2):
    """The device kit's round trip on one of Ped2's clips: every frame back, at its size, close to the original."""
    import cv2
    import numpy as np

    from vadagent.evals.device_kit import decode, encode

    clip = ped2 / "testing" / "frames" / "01"
    encode(clip, tmp_path / "01.mp4")
    count = decode(tmp_path / "01.mp4", tmp_path / "back")
    originals = sorted(clip.glob("*.jpg"))
    assert count == len(originals) == len(list((tmp_path / "back").glob("*.jpg")))
    first = cv2.imread(str(originals[40]), cv2.IMREAD_GRAYSCALE).astype(np.float32)
    again = cv2.imread(str(tmp_path / "back" / originals[40].name), cv2.IMREAD_GRAYSCALE).astype(np.float32)
    assert again.shape == first.shape and np.abs(first - again).mean() < 3.0  # gray levels: CRF 17, then JPEG q95
    # named as Ped2 names them, so the loader reads them as the originals (one label per frame, in order)
    assert sorted(p.name for p in (tmp_path / "back").glob("*.jpg")) == [p.name for p in originals]


def test_eval_detect_help_names_every_dataset():
    # the help lists the names by hand (importing the loaders at every CLI start would cost its startup)
    import typing

    from vadagent.app.cli_eval import eval_detect
    from vadagent.evals.datasets import FRAME_DATASETS

    option = typing.get_type_hints(eval_detect, include_extras=True)["dataset"].__metadata__[0]
    assert [name for name in FRAME_DATASETS if name not in option.help] == []


def test_every_benchmark_script_imports_what_it_needs_and_says_its_usage(monkeypatch, capsys):
    """The benchmarks run by hand, for minutes to an hour, so nothing else would see one that no longer imports after a
    change elsewhere (a name moved, a module split): every script's `--help`, in-process, prints its usage."""
    import importlib

    evals = Path(__file__).resolve().parents[1] / "evals"
    scripts = sorted(p.stem for p in evals.glob("*.py") if 'if __name__ == "__main__":' in p.read_text())
    assert {"bench_robustness", "bench_scorer", "bench_tiers", "device_kit"} <= set(scripts)
    for name in scripts:
        module = importlib.import_module(f"vadagent.evals.{name}")
        monkeypatch.setattr(sys, "argv", [f"{name}.py", "--help"])
        with pytest.raises(SystemExit) as ended:
            module.main()
        assert ended.value.code == 0 and f"usage: {name}.py" in capsys.readouterr().out, name
