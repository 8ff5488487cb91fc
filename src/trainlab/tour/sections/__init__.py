"""The tutorial's sections, in order: what each runs lives in a module of its own, imported when it runs.

Each section is a function ``(Context) -> Section`` (see :mod:`trainlab.tour.section`); :func:`run` runs
one by number, in whatever process asks (the tour's own, or a worker's).
"""

from __future__ import annotations

import dataclasses
import importlib
import time
import traceback

from trainlab.tour.section import Context, Section

# number -> (short name, title, "module:function"); the modules are imported when their section runs.
SECTIONS: dict[int, tuple[str, str, str]] = {
    1: ("losses", "Loss functions", "basics:losses"),
    2: ("optimizers", "Optimizers compared", "basics:optimizers"),
    3: ("schedules", "Learning-rate schedules", "basics:schedules"),
    4: ("basic loop", "A basic training loop", "runs:basic"),
    5: ("advanced trainer", "An advanced trainer", "runs:advanced"),
    6: ("dropout, batch norm", "Dropout and batch normalization compared", "studies:regularization"),
    7: ("L1, L2", "L1 and L2 weight regularization compared", "studies:weight_decay"),
    8: ("callbacks", "Built-in callbacks", "callbacks:callbacks"),
    9: ("custom callback", "A custom callback", "callbacks:custom_callback"),
    10: ("monitor", "Training monitor", "runs:monitor"),
    11: ("advice", "Its closing advice", "advice:advice"),
}
TRAINING = {4, 5, 6, 7, 8, 9, 10}  # the sections that train models (seconds to minutes each)
MODULES = tuple(dict.fromkeys(f"{__name__}.{target.partition(':')[0]}" for _, _, target in SECTIONS.values()))


def failed(number: int, error: str) -> Section:
    """Section ``number`` as failed with ``error`` (one line)."""
    return Section(number, SECTIONS[number][1], error=error, line=f"FAILED: {error}")


def run(number: int, ctx: Context) -> Section:
    """Run one section; a section that raises comes back failed (its traceback appended to ``ctx.errors``)."""
    _, title, target = SECTIONS[number]
    module, _, function = target.partition(":")
    ctx = dataclasses.replace(ctx, drawings=[])
    tick = time.perf_counter()
    try:
        section = getattr(importlib.import_module(f"{__name__}.{module}"), function)(ctx)
    except Exception as exc:  # a failed section is reported; the others still run
        section = failed(number, f"{type(exc).__name__}: {exc}")
        with open(ctx.errors, "a", encoding="utf-8") as f:
            f.write(f"section {number} ({title}):\n{traceback.format_exc()}\n")
    section.seconds = time.perf_counter() - tick
    section.drawings = list(ctx.drawings)  # drawn even when the section failed after training
    return section
