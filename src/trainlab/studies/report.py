"""A study's report: one self-contained HTML page (figures inline, no network) read from the study directory.

    from trainlab.studies.report import write_study_report
    write_study_report("studies/optimizers")     # studies/optimizers/report.html

The page says what was compared and how (metric, mode, seeds, executors, wall time), the
ranking in words, the summary and comparison tables, the figures, and links to every run.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from trainlab import __version__
from trainlab.checks import finite
from trainlab.report.page import STYLE, interval, nav_and_body, number, p_value, page, png_uri, table
from trainlab.report.page import escape as _e
from trainlab.studies.figures import CURVES, FINAL, WEIGHTS, study_figures
from trainlab.studies.stats import (
    COMPARISONS,
    SUMMARY,
    Study,
    ranking_text,
    read_study,
    read_table,
    reference_text,
    write_tables,
)

REPORT = "report.html"
FIGURE_CAPTIONS = {
    CURVES: "Training curves: per variant the mean over seeds, with the range from the lowest to the highest seed.",
    FINAL: "Each run's best value of the study metric, per variant, best mean first.",
    WEIGHTS: "The first layer's weights at the end of training: the distribution of one seed, and the L1 and L2 "
             "norms over seeds.",
}

# The study page's own classes, after the stylesheet every trainlab page shares: numbers right-aligned.
_CSS = """
.facts b { color: #1f2328; }
.ranking p { margin: 0.3em 0; } .ranking p:first-child { font-weight: 600; }
.caveat { color: #57606a; font-size: 0.92em; }
th, td { text-align: right; vertical-align: top; font-variant-numeric: tabular-nums; }
td.text, th.text { text-align: left; }
tr.yes td { background: #dafbe1; } .failed { color: #cf222e; }
"""


def write_study_report(study_dir: str | Path) -> Path:
    """Write ``report.html`` into a study directory.

    Reads ``summary.csv`` and ``comparisons.csv`` (computing them with
    :func:`~trainlab.studies.stats.write_tables` when either is missing) and embeds the
    figures as base64 PNGs (drawing them with :func:`~trainlab.studies.figures.study_figures`
    when ``curves.png`` or ``final.png`` is missing). The page loads nothing from anywhere:
    inline CSS, inline images, relative links to the run directories.

    Args:
        study_dir: a study directory (``study.json``, ``results.csv``, ``runs/``).

    Returns:
        The path of ``report.html``.

    Raises:
        TrainlabError: ``study.json`` or ``results.csv`` is missing or unreadable.

    Example:
        >>> write_study_report("studies/optimizers")  # doctest: +SKIP
        PosixPath('studies/optimizers/report.html')
    """
    study = read_study(study_dir)
    if not ((study.dir / SUMMARY).is_file() and (study.dir / COMPARISONS).is_file()):
        write_tables(study.dir)
    if not ((study.dir / CURVES).is_file() and (study.dir / FINAL).is_file()):
        study_figures(study.dir)
    page = render(study, read_table(study.dir / SUMMARY), read_table(study.dir / COMPARISONS))
    path = study.dir / REPORT
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path


def render(study: Study, summary: Sequence[Mapping[str, Any]], comparisons: Sequence[Mapping[str, Any]]) -> str:
    """The report's HTML from a study, its summary and comparison rows; figures are read from the study directory."""
    nav, body = nav_and_body([
        ("ranking", "Ranking", _ranking(study, summary, comparisons)),
        ("summary", "Summary per variant", _summary_table(study, summary)),
        ("comparisons", "Each variant against the reference", _comparisons_table(comparisons)),
        ("variants", "Variants and their runs", _variants_table(study)),
        ("figures", "Figures", _figures(study)),
    ])
    return page(title=f"{study.name}: study report",
                header=f"<h1>{_e(study.name)}: study report</h1>\n{_facts(study, comparisons)}", nav=nav, body=body,
                footer=_e(f"Written by trainlab {__version__} from the files of this study directory."),
                style=STYLE + _CSS)


def _facts(study: Study, comparisons: Sequence[Mapping[str, Any]]) -> str:
    better = "higher is better" if study.mode == "max" else "lower is better"
    seeds = ", ".join(str(s) for s in study.seeds)
    wall = f"{study.wall_time_s:.1f} s" if study.wall_time_s is not None else "not recorded"
    tests = sorted({str(c.get("test")) for c in comparisons if c.get("test")})
    confidence = next((c["confidence"] for c in comparisons if finite(c.get("confidence"))), 0.95)
    test = {"welch": "Welch's t-test", "bootstrap": "a percentile bootstrap"}.get(tests[0], tests[0]) if tests \
        else "no test (a single variant)"
    items = [
        f"<b>metric</b> <code>{_e(study.metric)}</code> at each run's best epoch ({better})",
        f"<b>seeds</b> {_e(seeds)} ({len(study.seeds)})",
        f"<b>variants</b> {len(study.variants)}",
        f"<b>wall time</b> {_e(wall)}",
        f"<b>test</b> {_e(test)}, two-sided, {_e(f'{confidence:.0%}')} confidence",
    ]
    if comparisons:
        items.append(f"<b>reference</b> {_e(reference_text(comparisons))}")
    return f'<p class="facts">{" · ".join(items)}</p>'


def _ranking(study: Study, summary: Sequence[Mapping[str, Any]], comparisons: Sequence[Mapping[str, Any]]) -> str:
    sentences = ranking_text(summary, comparisons, study.mode, study.metric).splitlines()
    paragraphs = "\n".join(f"<p>{_e(s)}</p>" for s in sentences)
    caveat = ("&ldquo;Distinguishable&rdquo; means the p-value, adjusted with Holm&rsquo;s method for the number of "
              "comparisons, is below 1 &minus; the confidence. When the reference is the best mean, it was picked "
              "after the fact, so any pair of variants could have been the one shown: the correction then counts every "
              "pair. &ldquo;Not distinguishable at N seeds&rdquo; is not a proof that the variants are equal: the "
              "interval of the difference says how large a difference these seeds leave possible, and more seeds "
              "may separate them.") if comparisons else ""
    return f'<div class="ranking">\n{paragraphs}\n</div>' + (f'\n<p class="caveat">{caveat}</p>' if caveat else "")


def _summary_table(study: Study, summary: Sequence[Mapping[str, Any]]) -> str:
    level = next((r["confidence"] for r in summary if finite(r.get("confidence"))), 0.95)
    head = ["variant", "n", "failed", "mean", "sd", "sem", f"{level:.0%} CI of the mean", "min", "median", "max"]
    rows = []
    for r in summary:
        failed = f'<span class="failed">{r["n_failed"]}</span>' if r.get("n_failed") else "0"
        rows.append([_e(r["variant"]), _e(r["n"]), failed, number(r["mean"]), number(r["std"]), number(r["sem"]),
                     interval(r["ci_low"], r["ci_high"]), number(r["min"]), number(r["median"]), number(r["max"])])
    note = (f'<p class="caveat">Values: <code>{_e(study.metric)}</code> at each run\'s best epoch. '
            "sd and the interval need 2 successful seeds or more (&ndash; otherwise); failed runs (non-finite "
            "values) are counted, not averaged.</p>")
    return table(head, rows) + note


def _comparisons_table(comparisons: Sequence[Mapping[str, Any]]) -> str:
    if not comparisons:
        return "<p>A single variant: nothing to compare.</p>"
    level = next((c["confidence"] for c in comparisons if finite(c.get("confidence"))), 0.95)
    head = ["variant", "reference", "n", "difference (variant &minus; reference)", f"{level:.0%} CI", "p-value",
            "p (Holm)", "distinguishable", "note"]
    rows, classes = [], []
    for c in comparisons:
        n = f"{c['n']} vs {c['n_reference']}"
        rows.append([_e(c["variant"]), _e(c["reference"]), _e(n), number(c["difference"]),
                     interval(c["ci_low"], c["ci_high"]), p_value(c["p_value"]), p_value(c.get("p_adjusted")),
                     "yes" if c["distinguishable"] else "no", _e(c.get("note") or "")])
        classes.append("yes" if c["distinguishable"] else "")
    note = (f'<p class="caveat">The reference: {_e(reference_text(comparisons))}. The interval and the p-value are '
            "each comparison's alone; &ldquo;distinguishable&rdquo; is decided on the adjusted p-value.</p>")
    return table(head, rows, classes, text_columns={0, 1, 7, 8}, escaped_head=True) + note


def _variants_table(study: Study) -> str:
    head = ["variant", "overrides", "executor", "runs", "mean wall time per run", "run directories"]
    by_variant: dict[str, list[Mapping[str, Any]]] = {v: [] for v in study.variants}
    for row in study.results:
        by_variant.setdefault(str(row["variant"]), []).append(row)
    rows = []
    for variant, overrides in study.variants.items():
        results = by_variant.get(variant, [])
        times = [float(r["wall_time_s"]) for r in results if finite(r.get("wall_time_s"))]
        wall = f"{sum(times) / len(times):.1f} s" if times else "&ndash;"
        rows.append([_e(variant), _overrides(overrides), _e(study.executors.get(variant, "not recorded")),
                     _e(len(results)), wall, _run_links(study, variant, results)])
    total = (f"<p>The whole study took {study.wall_time_s:.1f} s.</p>" if study.wall_time_s is not None else "")
    return table(head, rows, text_columns={0, 1, 2, 5}) + total


def _overrides(overrides: Any) -> str:
    if isinstance(overrides, Mapping):
        if not overrides:
            return "<i>the base recipe</i>"
        return "<br>".join(f"<code>{_e(k)}={_e(json.dumps(v))}</code>" for k, v in overrides.items())
    return f"<code>{_e(json.dumps(overrides))}</code>"


def _run_links(study: Study, variant: str, results: Sequence[Mapping[str, Any]]) -> str:
    links = []
    for row in results:
        seed = row.get("seed")
        path = study.run_dir(variant, seed)
        text = f"seed {seed}"
        failed = not finite(row.get("best_value"))
        if path.is_dir():
            href = f"runs/{quote(variant, safe='')}/{quote(f'seed{seed}', safe='')}/"
            link = f'<a href="{_e(href)}">{_e(text)}</a>'
        else:
            link = f"{_e(text)} (no records)"
        links.append(f'<span class="failed">{link} failed</span>' if failed else link)
    return ", ".join(links) or "&ndash;"


def _figures(study: Study) -> str:
    parts = []
    for name, caption in FIGURE_CAPTIONS.items():
        path = study.dir / name
        if not path.is_file():
            continue
        parts.append(f'<figure>\n<img src="{png_uri(path.read_bytes())}" alt="{_e(name)}">\n'
                     f"<figcaption><code>{_e(name)}</code>: {_e(caption)}</figcaption>\n</figure>")
    return "\n".join(parts) or "<p>No figures were drawn.</p>"









