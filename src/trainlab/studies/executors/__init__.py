"""Study executors: one interface, ``Executor(spec, study_dir).run(groups)`` yields a result per run.

``fused`` and ``sequential`` (:class:`InProcess`) and ``processes`` (:class:`Processes`) live in
:mod:`~trainlab.studies.executors.local`; ``dask`` in :mod:`~trainlab.studies.executors.dask`,
imported only when a study asks for it (Dask is an optional extra and slow to import).
"""

from __future__ import annotations

from trainlab.studies.executors.base import Executor
from trainlab.studies.executors.local import InProcess, Processes

__all__ = ["Executor", "InProcess", "Processes"]
