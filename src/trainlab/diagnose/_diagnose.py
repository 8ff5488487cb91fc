"""The rule registry and ``diagnose``: run every rule over a run's records."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from trainlab.diagnose._activations import dead_relu, saturation
from trainlab.diagnose._finding import SEVERITY_ORDER, Finding
from trainlab.diagnose._gradients import exploding_gradients, nonfinite, vanishing_gradients
from trainlab.diagnose._loss import divergence, lr_too_low, oscillation, overfitting, plateau
from trainlab.diagnose._overfit_batches import cannot_overfit
from trainlab.rundir import Records
from trainlab.rundir import as_records

Rule = Callable[[Records], "Finding | None"]

# Every rule, by id, in the order findings of equal severity are reported.
RULES: dict[str, Rule] = {
    "nonfinite": nonfinite,
    "divergence": divergence,
    "cannot_overfit": cannot_overfit,
    "exploding_gradients": exploding_gradients,
    "overfitting": overfitting,
    "vanishing_gradients": vanishing_gradients,
    "dead_relu": dead_relu,
    "saturation": saturation,
    "plateau": plateau,
    "oscillation": oscillation,
    "lr_too_low": lr_too_low,
}


def diagnose(records: Records | str | Path, rules: dict[str, Rule] | None = None) -> list[Finding]:
    """Read a run's records and say what went wrong, most serious first.

    Args:
        records: a run's records (``trainlab.monitor.load``) or its run directory.
        rules: the rules to run (default: all of ``RULES``).

    Returns:
        The findings, errors first, then warnings, then info; ``[]`` for a healthy run.

    Raises:
        TrainlabError: ``records`` is a path that is not a readable run directory.

    Example:
        >>> for finding in diagnose("runs/basic"):          # doctest: +SKIP
        ...     print(finding.severity, finding.message)
    """
    records = as_records(records)
    order = list(rules or RULES)
    found = [f for rule in (rules or RULES).values() if (f := rule(records)) is not None]
    return sorted(found, key=lambda f: (SEVERITY_ORDER[f.severity], order.index(f.rule) if f.rule in order else 0))
