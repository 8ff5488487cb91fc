"""``trainlab tour``'s mistakes, refused before anything trains; ``trainlab.tour`` from Python."""

from __future__ import annotations

import pytest

import trainlab
from trainlab import cli


@pytest.mark.parametrize(("args", "message"), [
    (["--only", "12"], "trainlab: error: --only: must be section numbers from 1 to 11, got 12"),
    (["--only", "0", "3"], "trainlab: error: --only: must be section numbers from 1 to 11, got 0"),
    (["--only", "x"], "trainlab: error: --only: must be an integer, got 'x'"),
    (["--only"], "trainlab: error: --only: expected at least one argument"),
    (["--mnist", "no-such-mnist.npz"],
     "trainlab: error: --mnist: must be a Keras-format mnist.npz file (not found), got 'no-such-mnist.npz'"),
    (["--quik"], "trainlab: error: --quik: unknown option of trainlab tour (did you mean '--quick'?); options: "
                 "-h, --help, --out, --quick, --only, --mnist"),
])
def test_mistakes_are_one_line_and_status_2(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["tour", *args]) == 2
    assert capsys.readouterr().err.strip() == message
    assert not (tmp_path / "runs").exists()  # nothing was made


def test_a_folder_that_holds_files_is_refused(capsys, tmp_path):
    (tmp_path / "old.txt").write_text("keep me")
    assert cli.main(["tour", "--only", "11", "--out", str(tmp_path)]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["old.txt"]


def test_only_runs_the_chosen_sections_and_the_module_is_callable(tmp_path):
    lines = []
    result = trainlab.tour(out=tmp_path / "t", only=[11, 1], echo=lines.append)
    assert [s.number for s in result.sections] == [1, 11]
    assert result.failed == []
    assert len(lines) == 3 and lines[0].startswith(" 1. losses") and lines[1].startswith("11. advice")
    assert result.report.is_file() and (result.dir / "tour.json").is_file()
    assert result.section(1).values["focal"] == pytest.approx(0.0036009, abs=1e-6)
    assert trainlab.tour.tour is not None and callable(trainlab.tour)
