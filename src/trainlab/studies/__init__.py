"""Studies: compare training recipes over several seeds, honestly and fast.

    import trainlab
    study = trainlab.study("examples/studies/regularization.yaml", seeds=[0, 1, 2])
    study.summary, study.dir

A study is a base recipe, variants (``vary``, ``grid``) and seeds; runs that share their data
and schedule train together in one compiled program (the ``fused`` executor). The study
directory holds a run directory per (variant, seed), ``results.csv``, ``summary.csv``,
``comparisons.csv``, figures and ``report.html``. A study that stopped (killed, interrupted)
continues with :func:`resume_study` (``trainlab resume STUDY_DIR``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainlab.config import parse_set
from trainlab.lazy import lazy_names

if TYPE_CHECKING:
    from trainlab.studies.run import Study
    from trainlab.studies.spec import StudyConfig

# Imported on first use: the study's training stack (Keras, TensorFlow) comes with ``run``, and reading a
# study directory (``trainlab report``, the tune's report) needs none of it.
_LAZY = {
    "Study": "trainlab.studies.run",
    "run_study": "trainlab.studies.run",
    "StudyConfig": "trainlab.studies.spec",
    "StudySpec": "trainlab.studies.spec",
    "load_study": "trainlab.studies.spec",
    "resume_study": "trainlab.studies.resume",
}

__all__ = [*_LAZY, "study"]

__getattr__, __dir__ = lazy_names(__name__, _LAZY, submodules=("executors", "figures", "groups", "report",
                                                                 "resume", "run", "spec", "stats", "terminal"))


def study(
    spec: str | Path | Mapping[str, Any] | StudyConfig,
    out: str | Path | None = None,
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
    *,
    figures: bool = True,
    **kw_overrides: Any,
) -> Study:
    """Run a study and write its directory.

    Args:
        spec: a study YAML path, a mapping shaped like it, or a :class:`StudyConfig`.
        out: the study directory (default ``runs/<name>-<timestamp>``); must be new or empty.
        overrides: study keys to change, ``{"seeds": [0, 1]}`` or ``["base.training.epochs=5"]``.
        figures: draw the figures and ``report.html``.
        **kw_overrides: the same with ``__`` for dots: ``base__training__epochs=5``.

    Returns:
        A :class:`Study` with ``.results``, ``.summary``, ``.comparisons`` and ``.dir``.

    Raises:
        TrainlabError: the study or one of its recipes is wrong (nothing has trained yet).

    Example:
        >>> s = trainlab.study("examples/studies/optimizers.yaml", seeds=[0, 1])  # doctest: +SKIP
        >>> [(r["variant"], r["mean"]) for r in s.summary]                          # doctest: +SKIP
    """
    from trainlab.studies.run import run_study  # the training stack: when a study runs
    from trainlab.studies.spec import load_study

    merged = dict(overrides.items() if isinstance(overrides, Mapping) else (parse_set(s) for s in overrides or ()))
    merged.update({k.replace("__", "."): v for k, v in kw_overrides.items()})
    return run_study(load_study(spec, merged), out, figures=figures)
