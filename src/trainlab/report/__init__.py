"""Reports read the run directory's records: the terminal summary and ``report.html``.

    from trainlab import report
    report.write_report("runs/basic")                   # runs/basic/report.html, self-contained
    page = report.render_report(monitor.load("runs/basic"))   # the same page as a string

Neither imports TensorFlow or touches a model; ``trainlab.report.terminal`` holds the
terminal views (``trainlab run``'s summary, ``trainlab show``); ``trainlab.report.page`` is the
page frame (style, navigation, embedded images) that run, study and tour pages share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainlab.lazy import lazy_names

if TYPE_CHECKING:
    from trainlab.report._html import findings_html, render_report, write_report

_LAZY = {
    "findings_html": "trainlab.report._html",
    "render_report": "trainlab.report._html",
    "write_report": "trainlab.report._html",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_names(__name__, _LAZY)
