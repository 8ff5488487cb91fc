"""The one shape of a study executor: ``run(groups)`` yields each run's result as it finishes.

An executor is made with the study and its directory, trains the groups it is given into
``<study_dir>/runs/<variant>/seed<k>``, and yields a :class:`~trainlab.studies.groups.Result`
per run: a run that raised is a result too (``status: failed`` with its error), never a gap.
Results are yielded as they come, so a study interrupted half-way still writes what finished.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

from trainlab.studies.groups import Group, Result
from trainlab.studies.spec import StudySpec


class Executor:
    """Base of the executors: holds the study and its directory; ``close`` releases what ``__init__`` started.

    Args:
        spec: the validated study.
        study_dir: the study directory (its ``runs/`` receives the run directories).
    """

    def __init__(self, spec: StudySpec, study_dir: Path) -> None:
        self.spec = spec
        self.study_dir = study_dir

    def run(self, groups: Sequence[Group]) -> Iterator[Result]:
        """Train every group's runs; yield one result per run, in the order they finish."""
        raise NotImplementedError

    def close(self) -> None:
        """Release workers, pools or clusters (nothing, for the executors that train in this process)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
