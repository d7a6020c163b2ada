"""`vadagent rules …`: author rules of normal and anomalous activity from normal samples."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vadagent.app.cli_shared import console, out, settings
from vadagent.errors import UsageError

rules_app = typer.Typer(help="Author rules of normal and anomalous activity from normal samples.", no_args_is_help=True)


@rules_app.command("induce")
def rules_induce(
    normal: Annotated[list[str], typer.Argument(help="Normal footage: videos, frame folders, PATH#t=START,END.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="RuleSet YAML to write.")],
    vlm: Annotated[str | None, typer.Option(help="Model string that describes frames (and induces rules).")] = None,
    site: Annotated[str, typer.Option(help="What the camera shows, e.g. 'a campus walkway'.")] = "the site",
    inducer: Annotated[str, typer.Option(help="'vlm': the model induces rules per batch; 'text': rules are the "
                                              "recurring phrases of the descriptions (normal rules only).")] = "vlm",
    frames: Annotated[int, typer.Option(min=1, help="Normal frames described for induction.")] = 32,
    heldout_frames: Annotated[int, typer.Option(min=1, help="Held-out normal frames described for validation.")] = 16,
    batch: Annotated[int, typer.Option(min=1, help="Frames per induction batch.")] = 8,
    min_support: Annotated[int, typer.Option(min=1, help="Batches a rule must recur in.")] = 2,
    max_false_alarm: Annotated[float, typer.Option(min=0, max=1, help="Anomaly rules firing on more held-out "
                                                                      "normal frames than this are removed.")] = 0.05,
    fps: Annotated[float | None, typer.Option(help="Frame rate of frame folders.")] = None,
) -> None:
    """Induce rules from normal footage: sample, describe, induce, aggregate, validate on held-out clips."""
    from vadagent.app.rules_cmd import induce_command

    if inducer not in {"vlm", "text"}:
        raise UsageError(f"--inducer must be 'vlm' or 'text', not {inducer!r}")
    raise typer.Exit(induce_command(settings(), normal, output, vlm=vlm, site=site, inducer=inducer, frames=frames,
                                    heldout_frames=heldout_frames, batch_size=batch, min_support=min_support,
                                    max_false_alarm=max_false_alarm, fps=fps, console=console))


@rules_app.command("validate")
def rules_validate(file: Annotated[Path, typer.Argument(help="RuleSet YAML.")]) -> None:
    """Check a (hand-edited) rule set: errors name the line; unknown fields are errors."""
    from vadagent.app.rules_cmd import validate_command

    raise typer.Exit(validate_command(file, out))


@rules_app.command("show")
def rules_show(file: Annotated[Path, typer.Argument(help="RuleSet YAML.")]) -> None:
    """Print a rule set readably: rules, provenance, validation figures, removed rules."""
    from vadagent.app.rules_cmd import show_command

    raise typer.Exit(show_command(file, out))


@rules_app.command("diff")
def rules_diff(a: Annotated[Path, typer.Argument(help="Old RuleSet YAML.")],
               b: Annotated[Path, typer.Argument(help="New RuleSet YAML.")]) -> None:
    """What changed between two rule sets, rule by rule."""
    from vadagent.app.rules_cmd import diff_command

    raise typer.Exit(diff_command(a, b, out))


@rules_app.command("test")
def rules_test(
    rules: Annotated[Path, typer.Argument(help="RuleSet YAML.")],
    video: Annotated[str, typer.Argument(help="A video file or frame folder.")],
    vlm: Annotated[str | None, typer.Option(help="Model string that describes frames.")] = None,
    every: Annotated[float, typer.Option(min=0.1, help="Seconds between described frames.")] = 2.0,
    fps: Annotated[float | None, typer.Option(help="Frame rate of a frame folder.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Which rules fire where in a video (frames described by the VLM, matched by meaning)."""
    from vadagent.app.rules_cmd import test_command

    raise typer.Exit(test_command(settings(), rules, video, vlm=vlm, every_s=every, fps=fps, as_json=as_json,
                                  out=out, console=console))


@rules_app.command("add")
def rules_add(
    file: Annotated[Path, typer.Argument(help="RuleSet YAML (created when missing).")],
    text: Annotated[str, typer.Argument(help="The rule, e.g. 'anyone without a helmet in zone B is an anomaly'.")],
    kind: Annotated[str, typer.Option(help="normal or anomaly.")] = "anomaly",
    subject: Annotated[str, typer.Option(help="human_activity, object, scene, conditional or other.")] = "other",
    rule_id: Annotated[str | None, typer.Option("--id", help="Rule id (default: the next free n#/a#).")] = None,
    open_world: Annotated[bool, typer.Option("--open-world", help="An open-world definition rather than a "
                                                                   "site observation.")] = False,
) -> None:
    """Add a hand-written rule or an open-world definition; the set's version goes up by one."""
    from vadagent.app.rules_cmd import add_command

    raise typer.Exit(add_command(file, text, kind=kind, subject=subject, rule_id=rule_id, open_world=open_world, out=out))


@rules_app.command("import")
def rules_import(
    file: Annotated[Path, typer.Argument(help="A rule file in another tool's format.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="RuleSet YAML to write.")],
    fmt: Annotated[str, typer.Option("--format", help="Source format: anomalyruler (rule_*.txt).")] = "anomalyruler",
    scene: Annotated[str | None, typer.Option(help="Scene name (default: from the file name).")] = None,
) -> None:
    """Convert another tool's rules (AnomalyRuler's rule_*.txt) into a RuleSet."""
    from vadagent.app.rules_cmd import import_command

    raise typer.Exit(import_command(file, output, fmt, scene, out))
