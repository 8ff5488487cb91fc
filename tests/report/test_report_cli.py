"""``trainlab report RUN_DIR`` and the report ``trainlab run`` writes at the end."""

from __future__ import annotations

import pytest
import yaml

from trainlab.cli import main


def test_report_verb_rebuilds_figures_and_page_and_prints_the_path(run_dir, capsys):
    path = run_dir(epochs=3, weights=True)
    assert main(["report", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{path / 'report.html'}\n" and captured.err == ""
    assert (path / "report.html").read_text(encoding="utf-8").count("<img ") == 4
    assert all((path / name).stat().st_size > 10_000
               for name in ("monitor.png", "curves.png", "layers.png", "weights.png"))


@pytest.mark.parametrize(("make", "rule"), [
    (lambda tmp: tmp / "missing", "is not a run directory (no such folder)"),
    (lambda tmp: (tmp / "notes.txt", (tmp / "notes.txt").write_text("x"))[0],
     "is a file, not a run directory (give the folder trainlab run wrote)"),
    (lambda tmp: tmp, "is missing: not a run directory, or training never started"),
])
def test_report_verb_on_a_bad_run_dir_is_one_line_and_status_2(tmp_path, capsys, make, rule):
    path = make(tmp_path)
    where = path / "history.csv" if path == tmp_path else path
    assert main(["report", str(path)]) == 2
    assert capsys.readouterr().err == f"trainlab: error: {where}: {rule}\n"
    assert not (tmp_path / "report.html").exists()


def test_report_verb_needs_a_run_dir(capsys):
    assert main(["report"]) == 2
    assert capsys.readouterr().err == "trainlab: error: report: missing RUN_DIR (see trainlab report --help)\n"


def test_run_writes_the_report_with_its_figures(tiny_recipe, tmp_path, capsys):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(yaml.safe_dump(dict(tiny_recipe, training={**tiny_recipe["training"], "epochs": 2})))
    out = tmp_path / "run"
    assert main(["run", str(recipe), "-q", "--out", str(out)]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<h1>tiny " in page and "completed" in page
    assert page.count("<img ") == len(list(out.glob("*.png"))) >= 3
