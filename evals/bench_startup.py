"""What a process that vadagent starts imports before its first frame: CPU and wall time, each in a
fresh interpreter.

    python evals/bench_startup.py [--rounds 5]

A batch's scoring processes (`report --processes`), a cluster's workers, a watch's camera processes and
the processes of `eval detect --workers` each import their modules first, and again whenever one is
started anew after a crash. Rows, one `python -c "import MODULE"` each, interleaved over the rounds
after one untimed round (the file cache warm), the median reported:

- `vadagent.app.job`: what a batch's scoring process and a cluster's worker imported until release 40
  (the explain graph, LangGraph and LangChain with it): the baseline, measured in the same run;
- `vadagent.app.detecting`: what they import since (`detect_apart`, the model-free half of a job);
- `vadagent.app.camera_processes`: a watch's camera process;
- `vadagent.tools.scorer.side_by_side`: a process of `eval detect --workers` or of fitting side by side;
- `vadagent.app.cli`: every `vadagent` command, before the command's own imports.

CPU is the child's user + system time; each row also says whether LangGraph or torch was imported.
Writes evals/results/bench_startup.{md,json}.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time

from vadagent.evals.common import add_results_argument, write_results

BASELINE = "vadagent.app.job"
MODULES = {
    BASELINE: "a scoring process or cluster worker until release 40",
    "vadagent.app.detecting": "a scoring process or cluster worker (detect_apart)",
    "vadagent.app.camera_processes": "a watch's camera process",
    "vadagent.tools.scorer.side_by_side": "a process of eval detect --workers, or fitting side by side",
    "vadagent.app.cli": "every vadagent command, before its own imports",
}
PROBE = "import sys\nimport {module}\nprint(int('langgraph' in sys.modules), int('torch' in sys.modules))"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def import_once(module: str) -> tuple[float, float, bool, bool]:
    """(CPU s, wall s, LangGraph imported, torch imported) of one fresh interpreter importing `module`."""
    cpu, started = _children_cpu(), time.perf_counter()
    result = subprocess.run([sys.executable, "-c", PROBE.format(module=module)], capture_output=True, text=True,
                            check=True)
    wall, cpu = time.perf_counter() - started, _children_cpu() - cpu
    graph, torch = (flag == "1" for flag in result.stdout.split())
    return cpu, wall, graph, torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timed rounds of every row")
    add_results_argument(parser)
    args = parser.parse_args()

    for module in MODULES:  # the file cache warm, untimed
        import_once(module)
    runs: dict[str, list[tuple[float, float, bool, bool]]] = {module: [] for module in MODULES}
    for _ in range(args.rounds):
        for module in MODULES:
            runs[module].append(import_once(module))
    rows = []
    for module, what in MODULES.items():
        cpus, walls = [r[0] for r in runs[module]], [r[1] for r in runs[module]]
        rows.append({"module": module, "process": what, "cpu_s": round(statistics.median(cpus), 3),
                     "wall_s": round(statistics.median(walls), 3), "cpu_rounds_s": [round(c, 3) for c in cpus],
                     "imports_langgraph": runs[module][0][2], "imports_torch": runs[module][0][3]})
    baseline = next(r for r in rows if r["module"] == BASELINE)
    for row in rows:
        row["cpu_vs_baseline"] = round(row["cpu_s"] / baseline["cpu_s"], 2)
        print(row)
    lines = ["# What a started process imports (CPU and wall, fresh interpreters)", "",
             f"Median of {args.rounds} interleaved rounds after one untimed round (file cache warm); CPU is the child's "
             f"user + system time; the ratio is against `{BASELINE}`, measured in the same run.", "",
             "| module | imported by | CPU s | wall s | CPU × baseline | LangGraph | torch | CPU each round |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| `{r['module']}` | {r['process']} | {r['cpu_s']} | {r['wall_s']} | {r['cpu_vs_baseline']} | "
              f"{'yes' if r['imports_langgraph'] else 'no'} | {'yes' if r['imports_torch'] else 'no'} | "
              f"{', '.join(map(str, r['cpu_rounds_s']))} |" for r in rows]
    written = write_results("bench_startup", {"rounds": args.rounds, "rows": rows}, "\n".join(lines), args.results)
    print(f"written to {written}")


if __name__ == "__main__":
    main()
