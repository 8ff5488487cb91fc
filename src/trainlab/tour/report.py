"""The tour's ``report.html``: every section's figures, tables and numbers beside the tutorial's, on one page.

Framed and styled as a run's report is (:mod:`trainlab.report.page`), with rules of its own for the
comparison tables and verdicts: everything inline, figures as base64 PNG ``data:`` URIs, no JavaScript,
a Content-Security-Policy that forbids any request, and every piece of text HTML-escaped. Links to the
run and study directories are relative, so the tour's folder can be moved or shared whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from trainlab.report import findings_html
from trainlab.report.page import STYLE, page, png_uri
from trainlab.report.page import escape as _e
from trainlab.tour.sections import facts as tutorial
from trainlab.tour.section import Section, Tour, seconds

_VERDICTS = {"same": ("agrees", "ok"), "fixed": ("fixed", "info"), "differs": ("differs", "warn"),
             "new": ("new", "new")}

# The tour's own classes, after the shared stylesheet.
_CSS = """
.story { max-width: 62em; }
.time { font-size: 0.6em; font-weight: 400; color: #57606a; margin-left: 0.6em; }
.verdict { font-size: 0.8em; padding: 0.1em 0.5em; border-radius: 1em; color: #fff; white-space: nowrap; }
.verdict.ok { background: #1a7f37; } .verdict.info { background: #0969da; }
.verdict.warn { background: #9a6700; } .verdict.new { background: #6e7781; } .verdict.bad { background: #cf222e; }
table.compare td, table.plain td { vertical-align: top; }
table.compare td.num, table.plain td.num { font-variant-numeric: tabular-nums; }
table.compare td.note { color: #57606a; font-size: 0.9em; max-width: 34em; }
table.overview td.line { font-size: 0.9em; max-width: 46em; }
caption { caption-side: bottom; text-align: left; color: #57606a; font-size: 0.88em; padding-top: 0.3em; }
ul.links { font-size: 0.92em; }
section.tour-section { margin-bottom: 2.5em; }
"""


def render(tour: Tour, versions: Mapping[str, Any]) -> str:
    """The tour's page as one HTML string."""
    parts = [_overview(tour)] + [_section(s) for s in tour.sections]
    nav = " · ".join(f'<a href="#s{s.number}">{s.number}. {_e(s.title)}</a>' for s in tour.sections)
    return page(
        title="trainlab tour: the tutorial, replayed",
        style=STYLE + _CSS,
        header=_header(tour, versions),
        nav=nav,
        body="\n".join(parts),
        footer=_e(f"Written by trainlab {versions.get('trainlab', '')} (TensorFlow {versions.get('tensorflow', '')}, "
                  f"Keras {versions.get('keras', '')}) into {tour.dir}; every number above is in tour.json."),
    )


def _header(tour: Tour, versions: Mapping[str, Any]) -> str:
    failed = len(tour.failed)
    status, css = (f"{failed} failed", "bad") if failed else ("completed", "ok")
    kind = "quick tour (--quick: fewer epochs, seeds and samples; the same code paths)" if tour.quick else "full tour"
    facts = [f"{len(tour.sections)} sections in {seconds(tour.seconds)}", kind,
             f"{tour.workers} sections at a time, each in a worker process" if tour.workers else
             "one section at a time",
             f"the tutorial's own code: about {tutorial.TUTORIAL_SECONDS:.0f} s until it crashed in section 10"]
    return (f'<h1>The tutorial, replayed by trainlab <span class="status {css}">{_e(status)}</span></h1>\n'
            '<p class="story">The tutorial &ldquo;TensorFlow Training and Optimization&rdquo; walks through loss '
            "functions, optimizers, learning-rate schedules, training loops, regularization, callbacks and "
            "monitoring, each a demo with plots. Each section below runs what the tutorial's section ran with "
            "trainlab's public API (the example recipes and studies, the optimizer race, the schedule plots), "
            "says what the tutorial did and what was wrong with it, and sets its numbers beside trainlab's.</p>\n"
            f'<p class="facts">{_e(" · ".join(facts))}</p>')


def _overview(tour: Tour) -> str:
    rows = []
    for s in tour.sections:
        tutorial_time = f"{s.tutorial_seconds:g} s" if s.tutorial_seconds else "–"
        line = f'<span class="verdict bad">failed</span> {_e(s.line)}' if s.error else _e(s.line)
        rows.append(f'<tr><td><a href="#s{s.number}">{s.number}. {_e(s.title)}</a></td><td class="line">{line}</td>'
                    f'<td class="num">{_e(seconds(s.seconds))}</td><td class="num">{_e(tutorial_time)}</td>'
                    f'<td class="num">{s.runs or "–"}</td></tr>')
    table = ('<table class="overview plain"><thead><tr><th>section</th><th>what ran, and the key number</th>'
             "<th>time here</th><th>the tutorial's time</th><th>models trained</th></tr></thead><tbody>"
             + "".join(rows) + "</tbody></table>")
    return f'<section id="overview">\n<h2>Overview</h2>\n{table}\n</section>'


def _section(s: Section) -> str:
    parts = [f'<h2>{s.number}. {_e(s.title)}<span class="time">{_e(seconds(s.seconds))}</span></h2>']
    if s.error:
        parts.append(f'<div class="error-box"><strong>This section failed:</strong> <code>{_e(s.error)}</code> '
                     "(the traceback is in errors.txt)</div>")
    if s.story:
        parts.append(f'<p class="story">{_e(s.story)}</p>')
    if s.compared:
        parts.append("<h3>The tutorial and trainlab</h3>" + _compared(s))
    for table in s.tables:
        parts.append(_table(table.head, table.rows, table.caption))
    for figure in s.figures:
        data = figure.data()
        if data is None:
            parts.append(f'<p class="muted">{_e(figure.title)}: the figure was not drawn (see errors.txt).</p>')
            continue
        parts.append(f'<figure><h3>{_e(figure.title)}</h3><img src="{png_uri(data)}" alt="{_e(figure.title)}">'
                     f"<figcaption>{_e(figure.caption)}</figcaption></figure>")
    if s.findings is not None:
        parts += ["<h3>Diagnosis</h3>", findings_html(s.findings)]
    parts += [f'<p class="note">{_e(note)}</p>' for note in s.notes]
    if s.links:
        items = "".join(f'<li><a href="{_e(_href(path))}">{_e(label)}</a> <code>{_e(path)}</code></li>'
                        for label, path in s.links)
        parts.append(f'<ul class="links">{items}</ul>')
    return f'<section id="s{s.number}" class="tour-section">\n' + "\n".join(parts) + "\n</section>"


def _compared(s: Section) -> str:
    rows = []
    for c in s.compared:
        word, css = _VERDICTS.get(c.verdict, (c.verdict, "new"))
        rows.append(f"<tr><th>{_e(c.what)}</th><td class=\"num\">{_e(c.tutorial)}</td>"
                    f"<td class=\"num\">{_e(c.trainlab)}</td><td><span class=\"verdict {css}\">{_e(word)}</span></td>"
                    f"<td class=\"note\">{_e(c.note)}</td></tr>")
    return ('<table class="compare"><thead><tr><th>quantity</th><th>the tutorial</th><th>trainlab</th><th>verdict</th>'
            "<th>why, or what it means</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _table(head: list[str], rows: list[list[Any]], caption: str) -> str:
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f'<td class="num">{_e(cell)}</td>' for cell in row) + "</tr>" for row in rows)
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    return f'<table class="plain">{cap}<thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'


def _href(path: str) -> str:
    return quote(path, safe="/")
