"""``report.html``: one self-contained page about a run, drawn from its records only.

The page is framed and styled as every trainlab page is (:mod:`trainlab.report.page`): everything
inline, a Content-Security-Policy that forbids loading anything else, so it opens offline, from an
e-mail attachment or a CI artifact, and never touches the network. No JavaScript. Every piece of
text from the records is HTML-escaped.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainlab.monitor import render_figures, write_pngs
from trainlab.rundir import SUMMARY, Records, load, write_json
from trainlab.report.page import escape as _e
from trainlab.report.page import nav_and_body, page, png_uri
from trainlab.report.usage import usage

REPORT = "report.html"

# (figure file, heading, what it shows): the order the report shows them in.
FIGURES = (
    ("curves.png", "Training curves",
     "Loss and each metric per epoch, train against validation; the best epoch is the dashed green line."),
    ("monitor.png", "Training monitor",
     "Loss, main metric, learning rate and gradient norm per step, the overfitting gap, and step-loss stability."),
    ("layers.png", "Layers",
     "Per-layer gradient norm (log scale) and weight norm per epoch; in newer runs also the update ratio "
     "and the share of dead or saturated units."),
    ("weights.png", "Weight histograms",
     "Each layer's kernel values after the first epoch and after the last (up to 10,000 values per layer)."),
)
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
_STATUS_CLASS = {"completed": "ok", "failed": "bad", "interrupted": "warn", "running": "info"}


def write_report(run_dir: str | Path, *, save_figures: bool = False) -> Path:
    """Write ``report.html`` into a run directory, from its records.

    Args:
        run_dir: a run directory (it may be a failed, interrupted or one-epoch run).
        save_figures: also write the figures as PNG files beside the report (``monitor.png``,
            ``curves.png``, ``layers.png``, ``weights.png``), rendered once for both.

    Returns:
        The path of ``report.html``.

    Raises:
        TrainlabError: the folder is not a run directory, or a records file cannot be read.

    Example:
        >>> write_report("runs/basic")  # doctest: +SKIP
        PosixPath('runs/basic/report.html')
    """
    records = load(run_dir)
    tick = time.perf_counter()
    pngs = render_figures(records)
    if save_figures:
        write_pngs(run_dir, pngs)
    figures_s = time.perf_counter() - tick
    timings = records.summary.get("timings")
    if isinstance(timings, dict):  # shown on the page; the page's own time is known only once it is written
        timings["figures"] = round(figures_s, 4)
    tick = time.perf_counter()
    path = Path(run_dir) / REPORT
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_report(records, pngs), encoding="utf-8")
    os.replace(tmp, path)
    if isinstance(timings, dict):
        timings["report"] = round(time.perf_counter() - tick, 4)
        write_json(Path(run_dir) / SUMMARY, records.summary)  # summary.json's timings: figures and report too
    return path


def render_report(records: Records, figures: Mapping[str, bytes] | None = None) -> str:
    """The report page of a run as one HTML string.

    Sections: the run's name and status, the diagnosis, best/final/test metrics, the figures,
    how to use the run's model (predict, evaluate, export), the data, timings and the recipe. Files a run may lack (``layers.csv``, ``weights.npz``,
    ``recipe.yaml``, ``summary.json``) only leave their part out or say it is missing.

    Args:
        records: a run's records (:func:`trainlab.monitor.load`).
        figures: PNG bytes by file name (``"curves.png"``, ...), as
            :func:`trainlab.monitor.render_figures` returns; rendered from ``records`` when None.

    Returns:
        The page: UTF-8 HTML with no external reference of any kind.

    Example:
        >>> from trainlab import monitor
        >>> page = render_report(monitor.load("runs/basic"))  # doctest: +SKIP
    """
    if figures is None:
        figures = render_figures(records)
    summary = records.summary
    status = str(summary.get("status") or "unknown")
    sections = [
        ("diagnosis", "Diagnosis", _diagnosis(summary)),
        ("metrics", "Metrics", _metrics(records)),
        ("figures", "Figures", _figures(records, figures)),
        ("data", "Data", _data(summary.get("data"))),
        ("timings", "Timings", _timings(records)),
        ("recipe", "Recipe", _recipe(records.recipe)),
    ]
    commands = usage(records.run_dir, summary) if records.run_dir is not None else []
    if commands:
        sections.insert(3, ("use", "Use this run", _usage(commands)))
    nav, body = nav_and_body(sections)
    return page(
        title=f"{records.name}: {status} (trainlab report)",
        header=_header(records, status),
        nav=nav,
        body=body,
        footer=_footer(records),
    )


# ---------------------------------------------------------------------------------- sections
def _header(records: Records, status: str) -> str:
    summary = records.summary
    facts = [f"{_epochs_run(records)} epochs"]
    if isinstance(summary.get("wall_time_s"), (int, float)):
        facts.append(f"{summary['wall_time_s']:.1f} s")
    if records.best_epoch is not None:
        best = f"best epoch {records.best_epoch}"
        if summary.get("monitor"):
            best += f" ({summary['monitor']} {_fmt(summary.get('best_value'))})"
        facts.append(best)
    if summary.get("stopped_early"):
        facts.append("stopped early")
    if summary.get("restored_best_weights"):
        facts.append(f"model.keras holds the weights of epoch {records.best_epoch}")
    parts = [
        f'<h1>{_e(records.name)} <span class="status {_STATUS_CLASS.get(status, "info")}">{_e(status)}</span></h1>',
        f'<p class="facts">{_e(" · ".join(facts))}</p>',
    ]
    if summary.get("error"):
        parts.append(f'<div class="error-box"><strong>error:</strong> <code>{_e(summary["error"])}</code></div>')
    return "\n".join(parts)


def _diagnosis(summary: Mapping[str, Any]) -> str:
    findings = summary.get("diagnosis")
    if findings is None:
        return ('<p class="muted">No diagnosis in summary.json: the run stopped before it was written, '
                "or an older trainlab recorded it.</p>")
    return findings_html(findings)


def findings_html(findings: Any) -> str:
    """A run's written diagnosis (``summary.json``'s ``diagnosis``), most severe first; a healthy note for none.

    The tour's page shows its runs' diagnoses with it too.
    """
    if not findings:
        return '<p class="healthy">✓ Healthy: the diagnosis found no problems in this run\'s records.</p>'
    findings = [f for f in findings if isinstance(f, Mapping)] if isinstance(findings, list) else []
    findings = sorted(findings, key=lambda f: _SEVERITY_ORDER.get(str(f.get("severity")), 3))
    return "\n".join(_finding(f) for f in findings)


def _finding(finding: Mapping[str, Any]) -> str:
    severity = str(finding.get("severity") or "info")
    parts = [
        f'<div class="finding {_e(severity) if severity in _SEVERITY_ORDER else "info"}">',
        f'<p><span class="severity">{_e(severity.upper())}</span> <code>{_e(finding.get("rule", "?"))}</code> '
        f'{_e(finding.get("message", ""))}</p>',
    ]
    if finding.get("advice"):
        parts.append(f'<p class="advice"><strong>Advice:</strong> {_e(finding["advice"])}</p>')
    evidence = finding.get("evidence") or {}
    if isinstance(evidence, Mapping) and evidence:
        pairs = " · ".join(f"<code>{_e(k)}</code> {_e(_compact(v))}" for k, v in evidence.items())
        parts.append(f'<p class="evidence">Evidence: {pairs}</p>')
    parts.append("</div>")
    return "\n".join(parts)


def _metrics(records: Records) -> str:
    summary = records.summary
    final = summary.get("final") or {k: v for k, v in records.history[-1].items() if k != "epoch"}
    best = summary.get("best") or _history_row(records, records.best_epoch)
    test = summary.get("test") or {}
    keys = _ordered([k for k in final if not k.endswith("_time_s")])
    monitor = summary.get("monitor")
    last = _epochs_run(records)
    head = ["metric", f"best (epoch {records.best_epoch})" if records.best_epoch else "best", f"final (epoch {last})"]
    if test:
        head.append("test")
    rows = []
    for key in keys:
        cells = [_fmt(best.get(key), key) if best else "", _fmt(final.get(key), key)]
        if test:
            cells.append(_fmt(test[key], key) if key in test else "")
        mark = ' class="monitor"' if key == monitor else ""
        rows.append(f"<tr{mark}><th>{_e(key)}</th>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    for key in test:
        if key not in keys:
            rows.append(f"<tr><th>test_{_e(key)}</th><td></td><td></td><td>{_e(_fmt(test[key], key))}</td></tr>")
    notes = []
    if monitor:
        notes.append(f"The best epoch is the one with the best <code>{_e(monitor)}</code> (highlighted).")
    if test:
        notes.append("Test values are computed once, at the end, with the final weights "
                     "(the best epoch's when early stopping restored them).")
    if any(k.startswith("train_eval_") for k in keys):
        notes.append("<code>train_eval_</code> rows: the training split re-evaluated in inference mode after "
                     "the epoch, comparable with <code>val_</code>; <code>loss</code> and the plain metrics are "
                     "running means over the epoch's batches in training mode.")
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    table = f'<table class="metrics"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    return table + "".join(f'<p class="note">{n}</p>' for n in notes)


def _figures(records: Records, figures: Mapping[str, bytes]) -> str:
    parts = []
    for name, title, caption in FIGURES:
        data = figures.get(name)
        if data is None or (name == "layers.png" and not records.layers):
            continue  # a record the run does not have (layers.csv, weights.npz): no figure
        parts.append(f'<figure id="fig-{name.removesuffix(".png")}"><h3>{_e(title)}</h3>'
                     f'<img src="{png_uri(data)}" alt="{_e(title)} of {_e(records.name)}">'
                     f"<figcaption>{_e(caption)} <span class=\"muted\">({_e(name)})</span></figcaption></figure>")
    return "\n".join(parts) or '<p class="muted">No figures.</p>'


def _data(data: Any) -> str:
    if not isinstance(data, Mapping) or not data:
        return '<p class="muted">No data summary in summary.json.</p>'
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_compact(v))}</td></tr>" for k, v in data.items() if k != "splits")
    parts = [f'<table class="kv">{rows}</table>']
    splits = data.get("splits")
    if isinstance(splits, Mapping) and splits:
        cells = []
        for split, info in splits.items():
            info = info if isinstance(info, Mapping) else {}
            counts = info.get("class_counts")
            counts = ", ".join(f"{k}: {v}" for k, v in counts.items()) if isinstance(counts, Mapping) else ""
            cells.append(f"<tr><th>{_e(split)}</th><td>{_e(info.get('n', ''))}</td><td>{_e(counts)}</td></tr>")
        parts.append('<table class="splits"><thead><tr><th>split</th><th>samples</th><th>class counts</th></tr>'
                     f'</thead><tbody>{"".join(cells)}</tbody></table>')
    return "\n".join(parts)


def _timings(records: Records) -> str:
    summary = records.summary
    times = [float(t) for t in (r.get("epoch_time_s") for r in records.history)
             if isinstance(t, (int, float)) and math.isfinite(t)]
    rows = [("epochs", str(_epochs_run(records)))]
    wall = summary.get("wall_time_s")
    if isinstance(wall, (int, float)):
        rows.append(("wall time", f"{wall:.2f} s"))
    if times:
        rows += [("epoch time, mean", _seconds(statistics.fmean(times))),
                 ("epoch time, median", _seconds(statistics.median(times))),
                 ("first epoch (includes building the graph)", _seconds(times[0]))]
        if len(times) > 1:
            rest = times[1:]
            rows.append(("the other epochs, mean / median",
                         f"{_seconds(statistics.fmean(rest))} / {_seconds(statistics.median(rest))}"))
            if statistics.median(rest) > 0:
                rows.append(("first epoch / median of the others", f"{times[0] / statistics.median(rest):.1f}x"))
        if isinstance(wall, (int, float)) and wall >= sum(times):
            rows.append(("wall time outside the epochs", _seconds(wall - sum(times))))
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv">{cells}</table>' + _parts(summary.get("timings"))


def _parts(timings: Any) -> str:
    """Where the time went (``summary.json``'s ``timings``): seconds and share of the session, part by part."""
    if not isinstance(timings, dict) or not isinstance(timings.get("total"), (int, float)):
        return ""
    total = float(timings["total"])
    rows = [(k, float(v)) for k, v in timings.items() if k not in ("total", "how", "runs")
            and isinstance(v, (int, float)) and v > 0]
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_seconds(v))}</td>"
                    f"<td>{_e(f'{v / total:.0%}' if total > 0 and k not in ('figures', 'report') else '')}</td></tr>"
                    for k, v in rows)
    shared = f"; {timings['runs']} runs trained together and share these" if timings.get("runs") else ""
    return (f'<p class="note">Where the time went ({_e(_seconds(total))} of training, figures and report'
            f' after it; {_e(str(timings.get("how", "")))}{_e(shared)}):</p>'
            f'<table class="kv"><tr><th>part</th><td>seconds</td><td>share</td></tr>{cells}</table>')


def _usage(commands: list[tuple[str, str]]) -> str:
    items = "".join(f"<li>{_e(what)}:<pre><code>{_e(command)}</code></pre></li>" for what, command in commands)
    return (f"<ul>{items}</ul>"
            '<p class="note">model.keras with preprocessing.json: raw inputs as the data source had them, '
            "columns by name; see docs/inference.md.</p>")


def _recipe(text: str | None) -> str:
    if text is None:
        return '<p class="muted">No recipe.yaml in this run directory.</p>'
    return f"<p class=\"note\">recipe.yaml, as the run ran it (re-runs as is):</p><pre><code>{_e(text)}</code></pre>"


def _footer(records: Records) -> str:
    summary = records.summary
    versions = [f"{name} {summary[key]}" for name, key in (("trainlab", "trainlab_version"),
                                                           ("TensorFlow", "tensorflow_version"),
                                                           ("Keras", "keras_version")) if summary.get(key)]
    where = f" in {records.run_dir}" if records.run_dir else ""
    text = f"Drawn from the records{where}" + (f"; trained with {', '.join(versions)}" if versions else "") + "."
    return _e(text)


# ---------------------------------------------------------------------------------- helpers
def _epochs_run(records: Records) -> int:
    epochs = records.summary.get("epochs_run")
    return int(epochs) if isinstance(epochs, (int, float)) else len(records.history)


def _history_row(records: Records, epoch: int | None) -> dict[str, Any]:
    rows = [r for r in records.history if epoch is not None and r.get("epoch") == epoch]
    return {k: v for k, v in rows[0].items() if k != "epoch"} if rows else {}


def _ordered(keys: list[str]) -> list[str]:
    """Loss, then each metric; each followed by its ``train_eval_`` and ``val_`` twins; lr and norms last."""
    tail = [k for k in ("lr", "learning_rate", "grad_norm", "grad_norm_max") if k in keys]
    bases = [k for k in keys if not k.startswith(("val_", "train_eval_")) and k not in tail]
    bases.sort(key=lambda k: k != "loss")
    ordered = []
    for base in bases:
        ordered += [k for k in (base, f"train_eval_{base}", f"val_{base}") if k in keys]
    return ordered + [k for k in keys if k not in ordered and k not in tail] + tail


def _fmt(value: Any, key: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    small = key in ("lr", "learning_rate") or (value != 0 and abs(value) < 1e-3)
    return f"{value:.3e}" if small else f"{value:.4f}"


def _seconds(value: float) -> str:
    return f"{value:.2f} s" if value >= 1 else f"{value * 1000:.3g} ms"


def _compact(value: Any, items: int = 12) -> str:
    """A JSON-ish value on one line: floats to 4 significant digits, long lists cut short."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_compact(v, items)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        shown = ", ".join(_compact(v, items) for v in value[:items])
        return f"[{shown}{', …' if len(value) > items else ''}]"
    return str(value)
