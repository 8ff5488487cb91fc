"""The ``records_dir`` fixture: synthetic run directories (see ``synthetic_runs.write_records``)."""

import pytest
from synthetic_runs import write_records


@pytest.fixture
def records_dir(tmp_path):
    """A factory: ``records_dir(**kw)`` writes a synthetic run under ``tmp_path`` (see ``write_records``)."""
    count = iter(range(1000))
    return lambda **kw: write_records(tmp_path / f"run{next(count)}", **kw)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """The corpus of real runs (``corpus.py``), trained once per session: ``{name: CorpusRun}``."""
    import corpus as runs

    out = tmp_path_factory.mktemp("corpus")
    return {run.name: run for run in [*runs.healthy(out), *runs.pathological(out)]}
