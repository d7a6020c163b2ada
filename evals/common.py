"""Helpers shared by the benchmark scripts: where results go and how they are written."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

DATA_ENV = "VADAGENT_DATA"  # the folder holding the datasets, so benchmark commands need no --data


def sample_and_clips(data: Path | None, names: tuple[str, ...]) -> list[Path]:
    """The bundled sample clip, then the real clips `names` under DATA/clips where a data folder is given."""
    from vadagent.samples import sample_clip

    return [sample_clip()] + ([data / "clips" / name for name in names] if data else [])


def fitted_on_opening(clip: Path, length_s: float, most_s: float = 15.0):
    """A scorer fitted on a clip's opening, its first quarter and at most `most_s`, as the clip benchmarks fit one."""
    from vadagent.tools.scorer import Scorer, SourceSpec

    return Scorer.fit([SourceSpec(str(clip), 0.0, min(most_s, length_s / 4))])


def clip_benchmark_args(doc: str) -> argparse.Namespace:
    """The options of a benchmark over the bundled sample and, where a data folder is given, its real clips
    (`sample_and_clips`): --data (optional) and --results; `doc`'s first paragraph is its description."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    add_data_argument(parser, required=False)
    add_results_argument(parser)
    return parser.parse_args()


def results_folder(folder: Path | None = None) -> Path:
    """Where results go: the folder asked for, else evals/results under the working directory
    (never the installed package, which is site-packages once installed)."""
    return folder if folder is not None else Path.cwd() / "evals" / "results"


def add_data_argument(parser: argparse.ArgumentParser, flag: str = "--data", below: str = "", *,
                      required: bool = True) -> None:
    """A dataset-root option: required (unless `required` is False) where $VADAGENT_DATA names no data folder."""
    base = os.environ.get(DATA_ENV)
    default = Path(base) / below if base else None
    parser.add_argument(flag, type=Path, default=default, required=required and default is None,
                        help=f"data folder{f' ({below})' if below else ''}; default from ${DATA_ENV}")


@dataclass(frozen=True)
class Site:
    """A site's normal footage, as the label-free benchmarks read it."""

    name: str  # what the results call its normal footage
    footage: list  # clips, in order
    fps: float  # of frame folders among them


def add_site_arguments(parser: argparse.ArgumentParser) -> None:
    """Ped2's training clips (`--root`), or another site's normal footage (`--footage`, `--fps`)."""
    add_data_argument(parser, "--root", "ucsd_ped2", required=False)
    parser.add_argument("--footage", nargs="+", type=Path, default=None,
                        help="another site's normal footage (videos or frame folders, played in order) "
                             "instead of Ped2's training clips under --root")
    parser.add_argument("--fps", type=float, default=None, help="frame rate of frame folders given as --footage")


def site_from(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Site:
    """The site `add_site_arguments` asked for; the parser's usage error when neither was given."""
    if args.footage is None and args.root is None:
        parser.error("give --root (Ped2's training clips) or --footage (another site's normal footage)")
    return footage_site(args.footage, args.fps) if args.footage else ped2_site(args.root)


def ped2_site(root: Path) -> Site:
    from vadagent.evals.datasets import load_ucsd

    data = load_ucsd(root)
    return Site(f"{data.name}'s normal footage ({len(data.train)} training clips)", data.train, data.fps)


def footage_site(paths: list[Path], fps: float | None) -> Site:
    """Normal footage given as videos or frame folders (a folder needs --fps: it carries no rate)."""
    from vadagent.errors import UsageError

    for path in paths:
        if not path.exists():
            raise UsageError(f"{path}: no such video or frame folder")
        if path.is_dir() and fps is None:
            raise UsageError(f"{path}: a frame folder has no frame rate; give --fps")
    return Site(f"the normal footage {', '.join(p.name for p in paths)}", paths, fps or 0.0)


def add_results_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", type=Path, default=None, help="results folder (default ./evals/results)")


def machine() -> dict:
    import torch

    return {
        "python": platform.python_version(), "cpus": os.cpu_count(), "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def write_results(name: str, payload: dict, markdown: str, folder: Path | None = None) -> Path:
    """Write `name.json` and `name.md` with the command, the time and the machine."""
    folder = results_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"command": shlex.join([Path(sys.argv[0]).name if sys.argv[0].endswith("vadagent") else sys.argv[0],
                                    *sys.argv[1:]]),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine()}
    (folder / f"{name}.json").write_text(json.dumps(meta | payload, indent=2) + "\n", encoding="utf-8")
    header = f"<!-- written by: {meta['command']} on {meta['date']}; machine: {meta['machine']} -->\n\n"
    (folder / f"{name}.md").write_text(header + markdown.rstrip() + "\n", encoding="utf-8")
    return folder / f"{name}.md"


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def remux(source: Path, target: Path, container: str) -> None:
    """A video's packets in another container (`av.open`'s format name), not re-encoded: the same frames
    as a camera or recorder would have written them there."""
    import av

    with av.open(str(source)) as src, av.open(str(target), "w", format=container) as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
