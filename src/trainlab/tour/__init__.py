"""``trainlab tour``: the tutorial "TensorFlow Training and Optimization", replayed with trainlab.

Every section of the tutorial runs with trainlab's public API (the example recipes and studies,
``trainlab.train``, ``trainlab.study``, the optimizer race, the schedule plots), writes its run and
study directories into the tour's folder, prints one line, and ends up in one ``report.html``
beside the tutorial's own numbers::

    import trainlab
    result = trainlab.tour(out="runs/tour", quick=True)      # or trainlab.tour.tour(...)
    result.report, result.section(6).values["ranking"]

The module is callable: ``trainlab.tour(...)`` is :func:`tour`.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from trainlab.tour.section import Compared, Context, Figure, Section, Table, Tour
from trainlab.tour.sections import SECTIONS
from trainlab.tour.tour import load_tour, terminal_line, tour

__all__ = ["SECTIONS", "Compared", "Context", "Figure", "Section", "Table", "Tour", "load_tour", "terminal_line",
           "tour"]


class _CallableModule(types.ModuleType):
    """``trainlab.tour(...)`` calls :func:`tour`, as ``trainlab.train(...)`` and ``trainlab.study(...)`` do."""

    def __call__(self, *args: Any, **kwargs: Any) -> Tour:
        return tour(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
