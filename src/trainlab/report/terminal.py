"""The terminal view of a run: best and final metrics, the data, where the records are.

``print_run_summary`` ends ``trainlab run``; ``show_run`` is ``trainlab show RUN_DIR``, which
reads the run directory's records only (no model, no TensorFlow).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from trainlab.report.usage import usage
from trainlab.rundir import display_order, load


def print_run_summary(summary: dict[str, Any], run_dir: str | Path, console: Console | None = None) -> None:
    """Print the run's status, best epoch and a best-vs-final table of its metrics."""
    console = console or Console()
    raw = summary.get("final") or {}
    final = {k: raw[k] for k in display_order(list(raw)) if isinstance(raw[k], (int, float))}
    best_epoch = summary.get("best_epoch")
    table = Table(title=f"{summary.get('name', 'run')}: {summary.get('status')}, "
                        f"{summary.get('epochs_run')} epochs in {summary.get('wall_time_s', 0):.1f} s")
    table.add_column("metric")
    table.add_column(f"best epoch ({best_epoch})" if best_epoch else "best", justify="right")
    table.add_column(f"final (epoch {summary.get('epochs_run')})", justify="right")
    best_row = summary.get("best") or {}
    for key, value in final.items():
        best = best_row.get(key)
        table.add_row(key, "" if best is None else _fmt(best, key), _fmt(value, key))
    for key, value in (summary.get("test") or {}).items():
        table.add_row(f"test_{key}", "", _fmt(value))
    console.print(table)
    notes = []
    if summary.get("stopped_early"):
        notes.append(f"stopped early; best {summary.get('monitor')} = {_fmt(summary.get('best_value'))}")
    if summary.get("restored_best_weights"):
        notes.append(f"model.keras holds the weights of epoch {best_epoch}")
    for note in notes:
        console.print(note)
    print_diagnosis(summary.get("diagnosis"), console)
    console.print(f"records: {run_dir}", soft_wrap=True, highlight=False)


_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def print_diagnosis(findings: list[dict[str, Any]] | None, console: Console) -> None:
    """One line per finding (severity, rule, what happened) and its advice; or that none were found."""
    if findings is None:
        return
    if not findings:
        console.print("diagnosis: no problems found", highlight=False)
        return
    console.print("diagnosis:", highlight=False)
    for f in findings:
        style = _STYLE.get(f.get("severity"), "")
        console.print(f"  [{style}]{f.get('severity')}[/] {f.get('rule')}: {f.get('message')}",
                      highlight=False, soft_wrap=True)
        if f.get("advice"):
            console.print(f"      advice: {f['advice']}", highlight=False, soft_wrap=True)


def _fmt(value: Any, key: str = "") -> str:
    if isinstance(value, float):
        small = key in ("lr", "learning_rate") or (value and abs(value) < 1e-3)
        return f"{value:.3e}" if small else f"{value:.4f}"
    return str(value)


def show_run(run_dir: str | Path, console: Console | None = None) -> None:
    """Print a finished (or stopped) run from its records: the metrics table, data, timings, and the
    commands that use its model (predict, evaluate, export).

    Raises:
        TrainlabError: the folder is not a run directory (the message names the file).
    """
    console = console or Console()
    records = load(run_dir)
    summary = dict(records.summary)
    if "final" not in summary:  # a run that died before writing its final summary: use the history
        summary.update(final={k: v for k, v in records.history[-1].items() if k != "epoch"},
                       epochs_run=len(records.history))
    summary.setdefault("name", Path(run_dir).name)
    print_run_summary(summary, Path(run_dir).resolve(), console)
    data = summary.get("data") or {}
    splits = data.get("splits") or {}
    if data:
        sizes = ", ".join(f"{name} {split.get('n')}" for name, split in splits.items() if split.get("n"))
        console.print(f"data: {data.get('source')} ({data.get('task')}, {data.get('n_features')} features; {sizes})",
                      highlight=False, soft_wrap=True)
    if summary.get("error"):
        console.print(f"error: {summary['error']}", highlight=False, soft_wrap=True)
    times = [row.get("epoch_time_s") for row in records.history if row.get("epoch_time_s") is not None]
    if times:
        console.print(f"epoch time: first {times[0]:.3f} s, median {sorted(times)[len(times) // 2] * 1000:.1f} ms",
                      highlight=False)
    timings = summary.get("timings")
    if isinstance(timings, dict) and isinstance(timings.get("total"), (int, float)):
        console.print(f"time: {timings_line(timings)}", highlight=False, soft_wrap=True)

    commands = usage(run_dir, records.summary)
    if commands:
        console.print("use this run:", highlight=False)
        for what, command in commands:
            console.print(f"  {what}:\n    {command}", highlight=False, soft_wrap=True)


def timings_line(timings: dict[str, Any]) -> str:
    """``summary.json``'s ``timings`` on one line: the parts of the session in seconds, then figures and report."""
    after = ("figures", "report")
    parts = [f"{k} {_seconds(v)}" for k, v in timings.items()
             if k not in ("total", "how", "runs", *after) and isinstance(v, (int, float)) and v >= 0.0005]
    line = f"{', '.join(parts)} (of {_seconds(timings['total'])}"
    line += f", {timings['runs']} runs together)" if timings.get("runs") else ")"
    later = [f"{k} {_seconds(timings[k])}" for k in after if isinstance(timings.get(k), (int, float))]
    return line + (f"; then {', '.join(later)}" if later else "")


def _seconds(value: float) -> str:
    return f"{value:.2f} s" if value >= 1 else f"{value * 1000:.3g} ms"
