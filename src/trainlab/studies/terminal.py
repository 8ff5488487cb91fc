"""A study on the terminal: its ranking table and, in words, what the seeds can tell apart (``trainlab study``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from trainlab.rundir.study import COMPARISONS, SUMMARY, read_study, read_table
from trainlab.studies.stats import ranking, reference_text


def print_study_summary(study_dir: str | Path, console: Console | None = None) -> None:
    """Print a study's ranking table, how the reference was chosen, and in words which differences the seeds
    can tell apart (``trainlab study``)."""
    console = console or Console()
    study = read_study(study_dir)
    summary = read_table(Path(study_dir) / SUMMARY)
    comparisons = read_table(Path(study_dir) / COMPARISONS)
    rows = ranking(summary, comparisons, study.mode, study.metric)
    wall = f" in {study.wall_time_s:.1f} s" if study.wall_time_s is not None else ""
    table = Table(title=f"{study.name}: {study.metric} ({study.mode}), {len(study.seeds)} seeds{wall}")
    for column in ("rank", "variant", "mean", "std", "95% CI", "n", "vs best", "p", "p (Holm)"):
        table.add_column(column, justify="left" if column == "variant" else "right", no_wrap=True)
    for row in rows:
        diff = row.get("difference")
        p, adjusted = row.get("p_value"), row.get("p_adjusted")
        table.add_row(
            str(row["rank"]), str(row["variant"]), _num(row.get("mean")), _num(row.get("std")),
            f"[{_num(row.get('ci_low'))}, {_num(row.get('ci_high'))}]", str(row.get("n")),
            "best" if diff is None or diff != diff else f"{diff:+.3g}", "" if p is None else _num(p),
            "" if adjusted is None else _num(adjusted),
        )
    console.print(table)
    if comparisons:
        console.print(f"reference: {reference_text(comparisons)}", highlight=False, soft_wrap=True)
    ran: dict[str, list[str]] = {}
    for variant, how in study.executors.items():
        ran.setdefault(how, []).append(variant)
    for how, variants in ran.items():
        console.print(f"ran {how}: {', '.join(variants)}", highlight=False, soft_wrap=True)
    for row in rows:
        console.print(row["sentence"], highlight=False, soft_wrap=True)
    console.print(f"study directory: {Path(study_dir).resolve()}", highlight=False, soft_wrap=True)


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return f"{value:.3g}" if isinstance(value, float) else str(value)
