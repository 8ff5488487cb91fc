"""Synthetic run directories for the report tests: the ``run_dir`` factory of tests/monitor/conftest.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

# tests/ is not a package: load the monitor tests' writer by path (one format for both test folders).
_spec = importlib.util.spec_from_file_location("_monitor_runs", Path(__file__).parents[1] / "monitor" / "conftest.py")
_runs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_runs)
write_run = _runs.write_run


@pytest.fixture
def run_dir(tmp_path):
    """A factory: ``run_dir(**kw)`` writes a synthetic run under ``tmp_path`` (see ``write_run``)."""
    count = iter(range(1000))
    return lambda **kw: write_run(tmp_path / f"run{next(count)}", **kw)
