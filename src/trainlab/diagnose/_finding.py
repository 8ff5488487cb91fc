"""One finding of the written diagnosis: what happened, the numbers that show it, what to do."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["info", "warning", "error"]

# Most serious first: the order findings are reported in.
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Finding:
    """What a rule found in a run's records.

    Attributes:
        rule: the rule's id (``"nonfinite"``, ``"overfitting"``, ...).
        severity: ``"info"``, ``"warning"`` or ``"error"``.
        message: one plain sentence saying what happened, with numbers.
        evidence: the epochs/steps and values the message rests on (plain JSON values).
        advice: what to change, concretely.
    """

    rule: str
    severity: Severity
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    advice: str = ""

    def __post_init__(self) -> None:
        if self.severity not in SEVERITY_ORDER:
            raise ValueError(f"severity must be one of {sorted(SEVERITY_ORDER)}, got {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        """The finding as a JSON-ready dict (the shape ``summary.json``'s ``diagnosis`` list holds)."""
        return asdict(self)
