"""What every trainlab HTML page shares: the page's frame, its stylesheet, escaping and inline figures.

A page is self-contained: its CSS in a ``<style>``, its figures as base64 PNG ``data:`` URIs, and a
Content-Security-Policy that forbids loading anything else, so it opens offline, from an e-mail
attachment or a CI artifact, and never touches the network. No JavaScript. The run report
(:mod:`trainlab.report._html`) and the tour's page (:mod:`trainlab.tour.report`) are both drawn
with :data:`STYLE`; a page that has classes of its own adds their rules after it.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from typing import Any

from trainlab.checks import finite


def page(*, title: str, header: str, nav: str, body: str, footer: str, style: str | None = None) -> str:
    """A whole page: the frame around its parts.

    Args:
        title: the browser tab's title (plain text; escaped here).
        header: HTML above the navigation (the ``<h1>`` and a line of facts).
        nav: HTML links to the page's sections.
        body: the sections' HTML.
        footer: HTML for the footer (where the page was drawn from).
        style: the page's CSS (default :data:`STYLE`).

    Returns:
        UTF-8 HTML with no external reference of any kind.

    Example:
        >>> page(title="run", header="<h1>run</h1>", nav="", body="<p>ok</p>", footer="")[:15]
        '<!DOCTYPE html>'
    """
    return _FRAME.format(title=escape(title), style=STYLE if style is None else style, header=header, nav=nav,
                         body=body, footer=footer)


def nav_and_body(parts: Sequence[tuple[str, str, str]]) -> tuple[str, str]:
    """A page's navigation and body from its ``(anchor, heading, html)`` parts: a link to each, and each part as
    ``<section id="anchor">`` under its ``<h2>`` heading (anchor and heading are HTML already)."""
    nav = " · ".join(f'<a href="#{anchor}">{heading}</a>' for anchor, heading, _ in parts)
    body = "\n".join(f'<section id="{anchor}">\n<h2>{heading}</h2>\n{content}\n</section>'
                     for anchor, heading, content in parts)
    return nav, body


def escape(value: Any) -> str:
    """Any value as HTML text, quotes included (safe inside an attribute too)."""
    return html.escape(str(value), quote=True)


def table(head: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[str] = (),
          text_columns: set[int] | None = None, escaped_head: bool = False) -> str:
    """An HTML table from cells that are already HTML: ``classes`` per row, ``text_columns`` left-aligned
    (default the first), the header escaped unless ``escaped_head``."""
    text_columns = {0} if text_columns is None else text_columns

    def cell(tag: str, k: int, content: str) -> str:
        return f'<{tag} class="text">{content}</{tag}>' if k in text_columns else f"<{tag}>{content}</{tag}>"

    header = "".join(cell("th", k, h if escaped_head else escape(h)) for k, h in enumerate(head))
    body = []
    for i, row in enumerate(rows):
        css = classes[i] if i < len(classes) and classes[i] else ""
        attrs = f' class="{css}"' if css else ""
        body.append(f"<tr{attrs}>" + "".join(cell("td", k, c) for k, c in enumerate(row)) + "</tr>")
    return f"<table>\n<thead><tr>{header}</tr></thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>\n"


def number(value: Any) -> str:
    """A table's number: 4 significant digits; a dash where there is none (None, NaN, infinite)."""
    return escape(f"{value:.4g}") if finite(value) else "&ndash;"


def interval(low: Any, high: Any) -> str:
    """A confidence interval, ``[low, high]``; a dash unless both ends are numbers."""
    return f"[{number(low)}, {number(high)}]" if finite(low) and finite(high) else "&ndash;"


def p_value(value: Any) -> str:
    """A p-value: 3 significant digits, ``<0.001`` below that; a dash where there is none."""
    if not finite(value):
        return "&ndash;"
    return "&lt;0.001" if 0 < value < 0.001 else escape(f"{value:.3g}")


def png_uri(data: bytes) -> str:
    """PNG bytes as a ``data:`` URI, for an ``<img src>`` the page's policy allows."""
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


_FRAME = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<header>
{header}
<nav>{nav}</nav>
</header>
<main>
{body}
</main>
<footer>{footer}</footer>
</body>
</html>
"""

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", "Liberation Sans", sans-serif;
       color: #1f2328; background: #fff; margin: 0 auto; max-width: 1240px; padding: 1.5em 2em; line-height: 1.45; }
h1 { font-size: 1.8em; margin: 0 0 0.2em; }
h2 { font-size: 1.35em; border-bottom: 1px solid #d0d7de; padding-bottom: 0.2em; margin-top: 1.8em; }
h3 { font-size: 1.1em; margin: 0.4em 0; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace;
            font-size: 0.92em; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 0.8em 1em; overflow-x: auto; }
nav { margin: 0.6em 0 0; font-size: 0.95em; }
nav a { color: #0969da; text-decoration: none; }
.facts { color: #57606a; margin: 0; }
.muted { color: #6e7781; }
.note { color: #57606a; font-size: 0.9em; margin: 0.4em 0; }
.status { font-size: 0.5em; vertical-align: middle; padding: 0.2em 0.6em; border-radius: 1em; color: #fff;
          text-transform: uppercase; letter-spacing: 0.05em; }
.status.ok { background: #1a7f37; } .status.bad { background: #cf222e; }
.status.warn { background: #9a6700; } .status.info { background: #0969da; }
.error-box { background: #ffebe9; border: 1px solid #cf222e; border-radius: 6px; padding: 0.6em 1em; margin: 0.8em 0; }
.healthy { background: #dafbe1; border: 1px solid #1a7f37; border-radius: 6px; padding: 0.6em 1em; color: #116329; }
.finding { border-left: 6px solid #0969da; background: #f6f8fa; border-radius: 4px; padding: 0.5em 1em;
           margin: 0.8em 0; }
.finding p { margin: 0.3em 0; }
.finding .severity { font-weight: 700; padding: 0.1em 0.5em; border-radius: 4px; color: #fff; background: #0969da;
                     font-size: 0.85em; }
.finding.error { border-left-color: #cf222e; background: #ffebe9; }
.finding.error .severity { background: #cf222e; }
.finding.warning { border-left-color: #bf8700; background: #fff8c5; }
.finding.warning .severity { background: #9a6700; }
.advice { color: #24292f; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.95em; }
th, td { border: 1px solid #d0d7de; padding: 0.3em 0.8em; text-align: left; }
thead th { background: #f6f8fa; }
table.metrics td { text-align: right; font-variant-numeric: tabular-nums; }
table.metrics tr.monitor { background: #ddf4ff; font-weight: 600; }
.evidence { font-size: 0.88em; color: #57606a; }
.evidence code { color: #24292f; }
table.kv th, table.splits tbody th { font-weight: 500; background: #fafbfc; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #d0d7de; }
figcaption { color: #57606a; font-size: 0.9em; }
footer { margin-top: 2.5em; color: #6e7781; font-size: 0.85em; border-top: 1px solid #d0d7de; padding-top: 0.6em; }
"""
