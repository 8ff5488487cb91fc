"""A tune's report: one self-contained HTML page (figures inline, no network) read from the tune directory.

    from trainlab.tune.report import write_tune_report
    write_tune_report("runs/basic-search-20260101-120000")   # runs/basic-search-.../report.html

The page says what was searched and how (metric, sampler, pruner, counts, wall time), the best
trial and the command that trains it, the figures (:mod:`trainlab.tune.figures`), the parameter
importances (:mod:`trainlab.tune.importance`), the confirmation study's ranking when there is one,
and every trial in a table with a link to its run directory. It reads only the tune directory's
files (:mod:`trainlab.tune.records`), so it can be written again at any time, also for a search
that was interrupted or is still running.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trainlab import __version__
from trainlab.checks import finite
from trainlab.report.page import STYLE, interval, nav_and_body, number, p_value, page, png_uri, table
from trainlab.report.page import escape as _e
from trainlab.studies.stats import COMPARISONS, STUDY, SUMMARY, ranking_text, read_study, read_table, reference_text
from trainlab.tune.figures import CURVES, FIGURES, IMPORTANCE, PARALLEL, PARAMETERS, PROGRESS, draw_figures
from trainlab.tune.importance import Importances, param_importances
from trainlab.tune.records import BEST, CONFIRM, TuneRecords, choice_label, read_tune

REPORT = "report.html"
FIGURE_CAPTIONS = {
    PROGRESS: "Each trial's value in the order the trials were asked for, and the best completed value so far. "
              "A pruned trial's value is its best before it stopped (fewer epochs than the others): it is never "
              "the best.",
    PARAMETERS: "The metric against each parameter of the space, one panel per key (a log axis where the space "
                "is log-spaced, a choice's values as categories).",
    PARALLEL: "Parallel coordinates: each vertical axis is a key of the space (over its whole range; log-scaled "
              "where the space is) and the last one the metric, better values on top; one line per trial, "
              "coloured by its value.",
    CURVES: "The metric per epoch of every trial (each trial's history.csv); a triangle marks the epoch at which "
            "a pruned trial stopped.",
}

# The tune page's own classes, after the stylesheet every trainlab page shares: numbers right-aligned.
_CSS = """
.facts b { color: #1f2328; }
th, td { text-align: right; vertical-align: top; font-variant-numeric: tabular-nums; }
td.text, th.text { text-align: left; }
tr.best td { background: #dafbe1; } .failed { color: #cf222e; } .pruned { color: #57606a; }
.caveat { color: #57606a; font-size: 0.92em; }
"""


def write_tune_report(tune_dir: str | Path, redraw: bool = False) -> Path:
    """Write ``report.html`` into a tune directory.

    Embeds the figures of ``figures/`` as base64 PNGs, drawing them (all with ``redraw``, else only when
    one is missing) with :func:`~trainlab.tune.figures.draw_figures`, and computes the parameter
    importances (:func:`~trainlab.tune.importance.param_importances`). The page loads nothing from
    anywhere: inline CSS, inline images, relative links to the trials' run directories and to
    ``confirm/report.html``.

    Args:
        tune_dir: a tune directory (``tune.json``, ``trials.csv``, ``runs/``).
        redraw: draw every figure again (the search's files changed since they were drawn).

    Returns:
        The path of ``report.html``.

    Raises:
        TrainlabError: ``tune.json`` is missing or unreadable.

    Example:
        >>> write_tune_report("runs/basic-search-20260101-120000")  # doctest: +SKIP
        PosixPath('runs/basic-search-20260101-120000/report.html')
    """
    tune = read_tune(tune_dir)
    importances = param_importances(tune)
    wanted = ([PROGRESS, PARAMETERS, PARALLEL, CURVES] if tune.trials else []) + \
        ([IMPORTANCE] if importances.values else [])
    if redraw or any(not (tune.dir / FIGURES / name).is_file() for name in wanted):
        draw_figures(tune, importances)
    path = tune.dir / REPORT
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render(tune, importances), encoding="utf-8")
    os.replace(tmp, path)
    return path


def refresh_tune_report(tune_dir: str | Path) -> Path | None:
    """Draw the figures and write ``report.html`` as a search ends; a failure is a warning, never an error.

    The search calls it once its files are written (also when it was interrupted): a page that
    cannot be drawn must not cost it its results, nor hide the interruption.

    Args:
        tune_dir: the tune directory.

    Returns:
        The path of ``report.html``, or None when it could not be written (the warning says why).
    """
    try:
        return write_tune_report(tune_dir, redraw=True)
    except Exception as exc:  # noqa: BLE001 - any failure: the tune directory's results stay as they are
        warnings.warn(f"{Path(tune_dir) / REPORT} not written ({type(exc).__name__}: {exc}); "
                      f"draw it again with: trainlab report {tune_dir}", stacklevel=2)
        return None


def render(tune: TuneRecords, importances: Importances) -> str:
    """The report's HTML from a tune and its importances; figures are read from ``figures/``."""
    parts = [
        ("best", "Best trial", _best(tune)),
        ("progress", "Progress", _figure(tune, PROGRESS)),
        ("parameters", "The metric against each parameter", _figure(tune, PARAMETERS)),
        ("parallel", "Parallel coordinates", _figure(tune, PARALLEL)),
        ("curves", "Learning curves", _figure(tune, CURVES)),
        ("importances", "Parameter importances", _importances(tune, importances)),
    ]
    if (tune.dir / CONFIRM / STUDY).is_file():
        parts.append(("confirmation", "Confirmation", _confirmation(tune)))
    parts.append(("trials", "All trials", _trials(tune)))
    nav, body = nav_and_body(parts)
    return page(title=f"{tune.name}: tune report",
                header=f"<h1>{_e(tune.name)}: tune report {_status(tune.status)}</h1>\n{_facts(tune)}",
                nav=nav, body=body,
                footer=_e(f"Written by trainlab {__version__} from the files of this tune directory; "
                          f"trainlab report {tune.dir} writes it again."),
                style=STYLE + _CSS)


def _status(status: str) -> str:
    css = {"completed": "ok", "interrupted": "bad", "time budget spent": "warn"}.get(status, "info")
    return f'<span class="status {css}">{_e(status)}</span>'


def _facts(tune: TuneRecords) -> str:
    s = tune.settings
    counts = {status: len(tune.with_status(status)) for status in ("completed", "pruned", "failed")}
    unfinished = tune.unfinished()
    trials = f"<b>trials run</b> {len(tune.trials)}" + (f" of {_e(s['trials'])}" if s.get("trials") else "") + \
        " (" + ", ".join(f"{n} {status}" for status, n in counts.items()) + \
        (f", {len(unfinished)} unfinished" if unfinished else "") + ")"
    wall = s.get("wall_time_s")
    pruner = s.get("pruner") or {}
    pruner_text = str(pruner.get("name", "not recorded"))
    if pruner_text in ("asha", "hyperband"):
        pruner_text += f" (min_epochs {pruner.get('min_epochs')}, reduction_factor {pruner.get('reduction_factor')})"
    elif pruner_text == "median":
        pruner_text += f" (from epoch {pruner.get('min_epochs')})"
    better = "higher is better" if tune.mode == "max" else "lower is better"
    items = [
        trials,
        f"<b>wall time</b> {_e(f'{wall:.1f} s' if finite(wall) else 'not recorded')}",
        f"<b>metric</b> <code>{_e(tune.metric)}</code> at each trial's best epoch ({better})",
        f"<b>sampler</b> {_e(s.get('sampler', 'not recorded'))} (seed {_e(s.get('seed', 0))})",
        f"<b>pruner</b> {_e(pruner_text)}",
        f"<b>population</b> {_e(s.get('population', 'not recorded'))}, "
        f"executor {_e(s.get('executor', 'not recorded'))}",
    ]
    return f'<p class="facts">{" · ".join(items)}</p>'


def _best(tune: TuneRecords) -> str:
    best = tune.best
    yaml_path = (tune.dir / BEST).resolve()
    if best is None:
        running = tune.status in ("running", "confirming")
        why = ("No trial has completed yet" if running else "No trial completed") + \
            f" ({len(tune.with_status('pruned'))} pruned, {len(tune.with_status('failed'))} failed), so there is no " \
            "best.yaml: a pruned trial stopped short of the full schedule and is not a candidate, a failed one has " \
            "no value."
        return f"<p>{_e(why)}</p>"
    how = (" It is the trial the confirmation study ranks first (below), not necessarily the best single run."
           if (tune.dir / CONFIRM / STUDY).is_file() and tune.settings.get("best_trial") == best["trial"] else "")
    text = (f"<p>Trial <b>{_e(best['trial'])}</b> is the best: <code>{_e(tune.metric)}</code> "
            f"{number(best['value'])} at epoch {_e(best.get('best_epoch'))} of {_e(best.get('epochs_run'))}."
            f"{_e(how)}</p>")
    values = table(["key", "value"], [[f"<code>{_e(dim.key)}</code>", _e(_param(dim, best))] for dim in tune.space],
                    text_columns={0, 1})
    if yaml_path.is_file():
        run = f"<p>Train it:</p>\n<pre>trainlab run {_e(yaml_path)}</pre>"
    else:
        run = "<p>best.yaml has not been written yet: the search wrote it when it ended.</p>"
    return text + "\n" + values + "\n" + run


def _figure(tune: TuneRecords, name: str) -> str:
    path = tune.dir / FIGURES / name
    if not path.is_file():
        return "<p>Not drawn: no trial has finished yet.</p>" if not tune.trials else "<p>Not drawn.</p>"
    return (f'<figure>\n<img src="{png_uri(path.read_bytes())}" alt="{_e(name)}">\n'
            f"<figcaption><code>{_e(FIGURES + '/' + name)}</code>: {_e(FIGURE_CAPTIONS[name])}</figcaption>\n</figure>")


def _importances(tune: TuneRecords, importances: Importances) -> str:
    if importances.values is None:
        return f"<p>Not computed: {_e(importances.reason)}.</p>"
    how = (f"<p>Computed with {_e(importances.method)}: <code>optuna.importance.get_param_importances</code> on an "
           f"Optuna study rebuilt from the {importances.n_trials} completed trials of trials.csv, with the space's "
           "distributions (a choice as the index of its value, as the search sampled it). Pruned trials are left "
           "out (their values come from fewer epochs), failed ones have no value. Each share is the part of the "
           "variance of the metric a random forest over the trials attributes to that key alone; with few trials "
           "it is rough.</p>")
    rows = [[f"<code>{_e(k)}</code>", _e(f"{v:.1%}")] for k, v in importances.values.items()]
    path = tune.dir / FIGURES / IMPORTANCE
    figure = (f'<figure>\n<img src="{png_uri(path.read_bytes())}" alt="{_e(IMPORTANCE)}">\n'
              f"<figcaption><code>{_e(FIGURES + '/' + IMPORTANCE)}</code>: each key's importance, largest first."
              "</figcaption>\n</figure>") if path.is_file() else ""
    return how + table(["key", "importance"], rows) + figure


def _confirmation(tune: TuneRecords) -> str:
    folder = tune.dir / CONFIRM
    study = read_study(folder)
    link = ('<p>The confirmation study\'s own page, with its figures and every run: '
            f'<a href="{CONFIRM}/{REPORT}">{CONFIRM}/{REPORT}</a>.</p>') if (folder / REPORT).is_file() else ""
    if not ((folder / SUMMARY).is_file() and (folder / COMPARISONS).is_file()):
        return f"<p>The confirmation study did not finish: {CONFIRM}/ has no {SUMMARY} yet.</p>" + link
    summary, comparisons = read_table(folder / SUMMARY), read_table(folder / COMPARISONS)
    intro = (f"<p>The best completed trials trained again over seeds {_e(', '.join(str(s) for s in study.seeds))} "
             f"as a study ({CONFIRM}/); the trial with the best mean is the search's answer "
             f"({BEST}).</p>")
    sentences = "\n".join(f"<p>{_e(line)}</p>" for line in
                          ranking_text(summary, comparisons, study.mode, study.metric).splitlines())
    by_trial = {f"trial-{r['trial']:03d}": r for r in tune.trials}
    compared = {str(c["variant"]): c for c in comparisons}
    level = next((r["confidence"] for r in summary if finite(r.get("confidence"))), 0.95)
    head = ["trial", "search value (one run)", "seeds", "mean", "sd", f"{level:.0%} CI of the mean",
            "difference from the best", "p (Holm)", "distinguishable"]
    sign = -1.0 if study.mode == "max" else 1.0
    ranked = sorted(summary, key=lambda r: (not finite(r.get("mean")),
                                            sign * r["mean"] if finite(r.get("mean")) else 0.0))
    rows, classes = [], []
    for r in ranked:
        variant = str(r["variant"])
        c = compared.get(variant, {})
        searched = by_trial.get(variant, {}).get("value")
        rows.append([_run_link(tune, by_trial[variant]["trial"], variant) if variant in by_trial else _e(variant),
                     number(searched), _e(r["n"]), number(r["mean"]), number(r["std"]), interval(r["ci_low"], r["ci_high"]),
                     number(c.get("difference")), p_value(c.get("p_adjusted")),
                     ("yes" if c.get("distinguishable") else "no") if c else "reference"])
        classes.append("best" if tune.best is not None and by_trial.get(variant) is tune.best else "")
    return (intro + f'<div class="ranking">\n{sentences}\n</div>\n' + table(head, rows, classes) +
            (f'<p class="caveat">Differences and p-values are against {_e(reference_text(comparisons))}. '
             "&ldquo;Not distinguishable&rdquo; is not a proof of equality: more seeds may separate them.</p>\n"
             if comparisons else "") + link)


def _trials(tune: TuneRecords) -> str:
    unfinished = tune.unfinished()
    note = (f'<p class="caveat">{len(unfinished)} trial{"s" if len(unfinished) != 1 else ""} '
            f"({', '.join(f'trial-{t:03d}' for t in unfinished)}) ha{'ve' if len(unfinished) != 1 else 's'} a run "
            "directory but no row in trials.csv: the search stopped while their population trained.</p>"
            ) if unfinished else ""
    if not tune.trials:
        return "<p>No trial has finished yet: trials.csv has no row.</p>" + note
    head = ["trial", "status", tune.metric, "best epoch", "epochs run", "wall time (s)",
            *[dim.key for dim in tune.space], "error"]
    rows, classes = [], []
    for r in tune.trials:
        status = str(r.get("status"))
        if status == "pruned" and r.get("pruned_at_epoch") is not None:
            status = f"pruned at epoch {r['pruned_at_epoch']}"
        css = "failed" if r.get("status") == "failed" else "pruned" if r.get("status") == "pruned" else ""
        rows.append([_run_link(tune, r["trial"]), f'<span class="{css}">{_e(status)}</span>' if css else _e(status),
                     number(r["value"]), _e(_blank(r.get("best_epoch"))), _e(_blank(r.get("epochs_run"))),
                     _e(f"{r['wall_time_s']:.2f}") if finite(r.get("wall_time_s")) else "&ndash;",
                     *[_e(_param(dim, r)) for dim in tune.space], _e(r.get("error") or "")])
        classes.append("best" if r is tune.best else "")
    choices = {6 + k for k, dim in enumerate(tune.space) if dim.kind == "choice"}
    legend = ('<p class="caveat">Green: the best trial. Each trial links to its run directory. The wall time of '
              'trials trained together in one engine is the engine\'s, shared evenly among them.</p>')
    return table(head, rows, classes, text_columns={0, 1, *choices, len(head) - 1}) + legend + note


def _run_link(tune: TuneRecords, trial: int, text: Any = None) -> str:
    text = trial if text is None else text
    if tune.run_dir(trial).is_dir():
        return f'<a href="runs/trial-{trial:03d}/">{_e(text)}</a>'
    return _e(text)


def _param(dim: Any, row: Mapping[str, Any]) -> str:
    value = row.get(dim.key)
    if value is None:
        return "–"
    if dim.kind == "choice":
        return choice_label(value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)




def _blank(value: Any) -> Any:
    return "–" if value is None else value





