"""The written diagnosis: rules that read a run's records (never a model) and say what went wrong.

    from trainlab import diagnose
    for finding in diagnose.diagnose("runs/basic"):
        print(finding.severity, finding.message, finding.advice)
"""

from trainlab.diagnose._diagnose import RULES, Rule, diagnose
from trainlab.diagnose._finding import Finding, Severity

__all__ = ["RULES", "Finding", "Rule", "Severity", "diagnose"]
