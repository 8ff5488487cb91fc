"""The ``records_dir`` fixture: synthetic run directories (see ``synthetic_runs.write_records``)."""

import pytest
from synthetic_runs import write_records


@pytest.fixture
def records_dir(tmp_path):
    """A factory: ``records_dir(**kw)`` writes a synthetic run under ``tmp_path`` (see ``write_records``)."""
    count = iter(range(1000))
    return lambda **kw: write_records(tmp_path / f"run{next(count)}", **kw)
