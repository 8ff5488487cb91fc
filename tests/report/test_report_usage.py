"""How to use a run's model, in report.html and `trainlab show`: read from the files alone."""

from __future__ import annotations

import json

import pytest

from trainlab.report import render_report
from trainlab.report.terminal import show_run
from trainlab.report.usage import usage
from trainlab.rundir import load

TABLE = {"format": 1, "source": "breast_cancer", "task": "binary", "input": {"shape": [3], "dtype": "float32"},
         "feature_names": ["mean radius", "mean texture", "mean area"], "class_names": ["malignant", "benign"]}
IMAGES = {**TABLE, "input": {"shape": [8, 8, 1], "dtype": "float32"}, "feature_names": None,
          "meta": {"image": {"size": [8, 8], "color": "grayscale", "scale": 1 / 16}}}
TOKENS = {**TABLE, "task": "regression", "input": {"shape": [12], "dtype": "int32"}, "class_names": None}


def _with_model(path, prep, test=114):
    (path / "model.keras").write_bytes(b"PK not read here")
    (path / "preprocessing.json").write_text(json.dumps(prep))
    summary = json.loads((path / "summary.json").read_text())
    summary["data"] = {"splits": {"test": {"n": test}}}
    (path / "summary.json").write_text(json.dumps(summary))
    return path


def _verbs(commands):
    return {command.split()[1] if command.startswith("trainlab ") else "python": (what, command)
            for what, command in commands}


@pytest.mark.parametrize("prep, example", [
    (TABLE, "new.csv --out predictions.csv"),
    (IMAGES, "images/ --out predictions.csv"),
    (TOKENS, "new.npz --out predictions.csv"),
])
def test_the_commands_fit_the_run(run_dir, prep, example):
    path = _with_model(run_dir(), prep)
    commands = _verbs(usage(path))
    assert commands["predict"][1] == f"trainlab predict {path} {example}"
    assert commands["evaluate"][1] == f"trainlab evaluate {path}" and "test split" in commands["evaluate"][0]
    assert commands["export"][1] == f"trainlab export {path} --format saved_model"
    assert ("probability" in commands["predict"][0]) == (prep["class_names"] is not None)
    assert commands["python"][1] == f"trainlab.load({str(path)!r}).predict(x)"


def test_without_a_test_split_evaluate_names_a_labelled_file(run_dir):
    path = _with_model(run_dir(), TABLE, test=0)
    assert _verbs(usage(path))["evaluate"][1] == f"trainlab evaluate {path} labelled.csv"


def test_no_model_no_commands(run_dir):
    path = run_dir()
    assert usage(path) == []
    (path / "model.keras").write_bytes(b"PK")
    assert usage(path) == []  # no preprocessing.json: an older run that predict cannot use
    assert 'id="use"' not in render_report(load(path), figures={})


def test_the_report_and_show_print_them(run_dir, capsys):
    from rich.console import Console

    path = _with_model(run_dir(), TABLE)
    page = render_report(load(path), figures={})
    assert '<section id="use">' in page and f"trainlab predict {path} new.csv --out predictions.csv" in page
    show_run(path, Console(width=200))
    out = capsys.readouterr().out
    assert "use this run:" in out and f"    trainlab evaluate {path}\n" in out
