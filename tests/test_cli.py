"""The ``trainlab`` command as a user meets it: run, check, list, --version, help, and usage errors.

Three tests start the real console script (each pays ~6 s to import TensorFlow); the
rest call :func:`trainlab.cli.main` in-process and read its status and captured output.
The catalogue of recipe and data mistakes is in ``test_bad_input.py``.
"""

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import trainlab
from trainlab import cli
from trainlab.cli import main

RUN_FILES = {"recipe.yaml", "history.csv", "steps.csv", "layers.csv", "summary.json", "model.keras"}


@pytest.fixture
def recipe(tmp_path, tiny_recipe, monkeypatch):
    """``recipe.yaml`` in a fresh working folder: the tiny recipe, 3 epochs, no TensorBoard."""
    monkeypatch.chdir(tmp_path)
    data = {**tiny_recipe, "training": {**tiny_recipe["training"], "epochs": 3}}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _console_script(*args, cwd):
    """Run ``trainlab ARGS`` as a user would, in ``cwd``."""
    script = Path(sys.executable).with_name("trainlab")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "trainlab.cli"]
    # A wide console: rich folds long lines at 80 columns when stdout is a pipe (see test_records_path_is_one_line).
    env = {**os.environ, "COLUMNS": "240"}
    return subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _one_error_line(err):
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got:\n{err}"
    assert "Traceback" not in err
    assert lines[0].startswith("trainlab: error: ")
    return lines[0].removeprefix("trainlab: error: ")


# ---------------------------------------------------------------------------- real runs
def test_run_trains_writes_the_run_directory_and_ends_with_the_table(recipe, tmp_path):
    out = tmp_path / "runs" / "first"
    result = _console_script(
        "run", "recipe.yaml", "--out", str(out),
        "--set", "training.epochs=2", "--set", "optimizer.learning_rate=1e-2", cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "error" not in result.stderr
    assert RUN_FILES <= {p.name for p in out.iterdir()}

    with open(out / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2]  # --set training.epochs=2 beat the recipe's 3
    resolved = yaml.safe_load((out / "recipe.yaml").read_text())
    assert resolved["training"]["epochs"] == 2
    assert resolved["optimizer"]["learning_rate"] == 0.01
    assert [float(r["lr"]) for r in rows] == pytest.approx([0.01, 0.01])
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["status"], summary["epochs_run"]) == ("completed", 2)

    lines = result.stdout.rstrip("\n").splitlines()
    assert lines[-1] == f"records: {out.resolve()}"
    table = "\n".join(lines[:-1])
    assert "tiny: completed, 2 epochs" in lines[0]
    assert re.search(r"best epoch \(\d\)", table) and "final (epoch 2)" in table
    for metric in ("loss", "val_loss", "accuracy", "val_accuracy", "lr"):
        assert re.search(rf"│ {metric}\s+│", table), metric
    final_loss = float(re.search(r"│ loss\s+│\s+\S+\s+│\s+(\S+)\s+│", table).group(1))
    assert final_loss == pytest.approx(float(rows[-1]["loss"]), abs=5e-5)


@pytest.mark.parametrize(
    "files, expected",
    [
        pytest.param({"recipe.yaml": "training:\n  epochs: 0\n"}, "training.epochs: must be > 0, got 0", id="recipe"),
        pytest.param(
            {"recipe.yaml": "data: {source: csv, path: data.csv}\n", "data.csv": "a,b,y\n1,x,NA\n2,3,1\n"},
            "data.csv: line 2, column 'y': the target cell is missing (empty or NA), got 'NA'",
            id="data",
        ),
    ],
)
def test_a_bad_recipe_is_one_stderr_line_and_status_2(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = _console_script("run", "recipe.yaml", "--out", "new-run", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert _one_error_line(result.stderr) == expected
    assert not (tmp_path / "new-run").exists()


# ---------------------------------------------------------------------------- in-process
def test_run_quiet_prints_no_progress(recipe, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # keep the records line whole (see test_records_path_is_one_line)
    assert main(["run", "recipe.yaml", "-q", "--out", "q", "--set", "training.verbose=1"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.rstrip("\n").splitlines()[-1] == f"records: {(tmp_path / 'q').resolve()}"
    assert len((tmp_path / "q" / "history.csv").read_text().splitlines()) == 1 + 3


def test_records_path_is_one_line(recipe, tmp_path, capsys):
    out_dir = tmp_path / ("a-long-folder-name-" * 4) / "run"
    assert main(["run", "recipe.yaml", "-q", "--out", str(out_dir), "--set", "training.epochs=1"]) == 0
    assert capsys.readouterr().out.rstrip("\n").splitlines()[-1] == f"records: {out_dir.resolve()}"


def test_check_prints_the_resolved_recipe_and_writes_nothing(recipe, tmp_path, capsys):
    assert main(["check", "recipe.yaml", "--set", "training.epochs=7", "--set", "optimizer=sgd"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    first, _, rest = out.partition("\n")
    assert first == "# tiny: valid"
    resolved = yaml.safe_load(rest)
    assert list(resolved) == [
        "name", "seed", "deterministic", "data", "model", "loss", "optimizer", "training", "metrics", "tracking",
    ]
    assert resolved["training"]["epochs"] == 7
    assert resolved["optimizer"]["name"] == "sgd"
    assert resolved["data"] == {
        "source": "synthetic_classification", "task": "auto", "seed": None, "n_samples": 200, "n_features": 8,
        "n_informative": None, "n_redundant": None, "n_classes": 2, "weights": None, "flip_y": None,
        "validation_split": 0.2, "test_split": 0.0, "stratify": True, "standardize": True, "augment": [],
    }
    assert resolved["model"]["hidden"] == [16, 8]
    # Every default filled in; the auto choices stay auto (they are resolved once the data is loaded).
    assert (resolved["loss"], resolved["metrics"], resolved["model"]["output"]) == ("auto", "auto", "auto")
    assert resolved["optimizer"]["learning_rate"] == 0.001 and resolved["training"]["batch_size"] == 32
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recipe.yaml"]


EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_check_accepts_every_example(example, capsys):
    assert main(["check", str(example)]) == 0
    assert capsys.readouterr().out.startswith(f"# {example.stem}: valid\n")


def test_list_prints_every_kind_one_line_each(capsys):
    assert main(["list"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    kinds = dict(line.split(": ", 1) for line in out.splitlines())
    assert list(kinds) == [
        "augmentations", "callbacks", "data", "losses", "metrics", "models", "optimizers", "regularizers", "schedules",
    ]
    assert {"adam", "sgd", "adamw"} <= set(kinds["optimizers"].split(", "))
    assert {"csv", "npz", "digits", "synthetic_classification", "image_folder"} <= set(kinds["data"].split(", "))
    assert {"cosine", "exponential", "warmup_cosine"} <= set(kinds["schedules"].split(", "))


def test_list_losses_prints_one_line(capsys):
    assert main(["list", "losses"]) == 0
    out, _ = capsys.readouterr()
    kind, _, names = out.strip().partition(": ")
    assert "\n" not in out.strip() and kind == "losses"
    assert {"binary_crossentropy", "sparse_categorical_crossentropy", "focal", "huber", "mse"} <= set(names.split(", "))
    assert names.split(", ") == sorted(names.split(", "))


def test_list_augmentations_prints_the_registry(capsys):
    from trainlab.data import augment

    assert main(["list", "augmentations"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out == f"augmentations: {', '.join(augment.names())}\n"
    assert {"random_flip", "random_rotation", "gaussian_noise"} <= set(augment.names())


def test_version_names_trainlab_tensorflow_and_keras(capsys):
    import keras
    import tensorflow as tf

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == (
        f"trainlab {trainlab.__version__} (TensorFlow {tf.__version__}, Keras {keras.__version__})\n"
    )


def test_no_verb_prints_help_and_returns_2(capsys):
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out.startswith("usage: trainlab") and "{run,resume,check,list,show,figures,report,study,tune,tour,predict,evaluate,export,optimizers,schedules,lr-find}" in out
    assert err == ""


@pytest.mark.parametrize("argv", [["-h"], ["run", "--help"], ["check", "-h"]])
def test_help_returns_0(argv, capsys):
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("usage: trainlab")


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["frobnicate"], "command: unknown command; valid commands: run, resume, check, list, show, figures, report, study, tune, tour, predict, evaluate, export, optimizers, schedules, lr-find, got 'frobnicate'"),
        (["rn", "recipe.yaml"],
         "command: unknown command (did you mean 'run'?); valid commands: run, resume, check, list, show, figures, report, study, tune, tour, predict, evaluate, export, optimizers, schedules, lr-find, got 'rn'"),
        (["--bogus"], "--bogus: unknown option of trainlab; options: -h, --help, --version"),
        (["run", "recipe.yaml", "--ot", "x"],
         "--ot: unknown option of trainlab run (did you mean '--out'?);"
         " options: -h, --help, --set, --out, -q, --quiet, --no-figures, --mlflow, --distribute, --fast-dev-run"),
        (["check", "recipe.yaml", "-q"], "-q: unknown option of trainlab check; options: -h, --help, --set"),
        (["run", "recipe.yaml", "other.yaml"], "run: unexpected argument, got 'other.yaml'"),
        (["run"], "run: missing RECIPE (see trainlab run --help)"),
        (["check"], "check: missing RECIPE (see trainlab check --help)"),
        (["run", "recipe.yaml", "--set"], "--set: needs a value (see trainlab run --help)"),
        (["run", "recipe.yaml", "--out"], "--out: needs a value (see trainlab run --help)"),
        (["list", "lossess"],
         "list: unknown kind (did you mean 'losses'?); valid kinds: augmentations, callbacks, data, losses, metrics,"
         " models, optimizers,"
         " regularizers, schedules, got 'lossess'"),
    ],
)
def test_usage_errors_are_one_line_and_status_2(recipe, argv, expected, capsys):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert _one_error_line(err) == expected


def test_interrupt_exits_130_with_one_line(recipe, monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_check", interrupted)
    assert main(["check", "recipe.yaml"]) == 130
    assert capsys.readouterr().err == "trainlab: interrupted\n"


def test_warnings_are_one_line(recipe, monkeypatch, capsys):
    import warnings

    def warns(args):
        warnings.warn("model.output is 'sigmoid' but the loss reads logits", UserWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(cli, "_check", warns)
    assert main(["check", "recipe.yaml"]) == 0
    assert capsys.readouterr().err == "trainlab: warning: model.output is 'sigmoid' but the loss reads logits\n"


def test_figures_verb_draws_from_records_and_run_can_skip_them(recipe, tmp_path, capsys):
    assert main(["run", "recipe.yaml", "-q", "--no-figures", "--out", str(tmp_path / "r"),
                 "--set", "training.epochs=2"]) == 0
    assert not (tmp_path / "r" / "monitor.png").exists()
    capsys.readouterr()
    assert main(["figures", str(tmp_path / "r")]) == 0
    printed = capsys.readouterr().out.split()
    assert [p.rsplit("/", 1)[-1] for p in printed] == ["monitor.png", "curves.png", "layers.png", "weights.png"]
    assert all((tmp_path / "r" / name).stat().st_size > 10_000 for name in ("monitor.png", "curves.png"))
    assert main(["figures", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.startswith("trainlab: error: ")


def test_show_prints_a_run_from_its_records(recipe, tmp_path, capsys):
    assert main(["run", "recipe.yaml", "-q", "--no-figures", "--out", str(tmp_path / "r"),
                 "--set", "training.epochs=2"]) == 0
    capsys.readouterr()
    assert main(["show", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "completed, 2 epochs" in out and "val_loss" in out and f"records: {(tmp_path / 'r').resolve()}" in out
    assert "data: synthetic_classification (binary" in out and "epoch time: first" in out
    assert main(["show", str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err == f"trainlab: error: {tmp_path / 'nothing'}: is not a run directory (no such folder)\n"


def test_resume_continues_a_stopped_run_and_prints_its_summary(recipe, tmp_path, capsys):
    from trainlab import rundir
    from trainlab.training import checkpoint

    assert main(["run", "recipe.yaml", "-q", "--no-figures", "--out", str(tmp_path / "r")]) == 0
    capsys.readouterr()
    whole = (tmp_path / "r" / "history.csv").read_text()
    # What a kill during epoch 3 leaves: checkpoints up to epoch 2, a summary that says running.
    checkpoint.files(tmp_path / "r")[-1].unlink()
    rundir.write_json(tmp_path / "r" / "summary.json", {"status": "running", "name": "tiny", "monitor": "val_loss"})
    assert main(["resume", str(tmp_path / "r"), "-q", "--no-figures"]) == 0
    out = capsys.readouterr().out
    assert "tiny: completed, 3 epochs" in out and f"records: {(tmp_path / 'r').resolve()}" in out
    strip = lambda text: [line.rsplit(",", 1)[0] for line in text.splitlines()]  # noqa: E731 (epoch_time_s)
    assert strip((tmp_path / "r" / "history.csv").read_text()) == strip(whole)
    assert main(["resume", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err == (f"trainlab: error: {tmp_path / 'r'}: the run has completed; there is nothing"
                                       " to resume, got 'completed'\n")


def test_sigterm_stops_a_run_like_ctrl_c(recipe, tmp_path):
    import json
    import signal
    import time

    out_dir = tmp_path / "long"
    proc = subprocess.Popen(
        [sys.executable, "-m", "trainlab.cli", "run", "recipe.yaml", "-q", "--no-figures", "--out", str(out_dir),
         "--set", "training.epochs=100000"],
        cwd=recipe.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    history = out_dir / "history.csv"
    while time.time() < deadline and not (history.exists() and len(history.read_text().splitlines()) > 3):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == ("trainlab: terminated (SIGTERM); the run directory is marked interrupted;"
                                            f" continue with: trainlab resume {out_dir.resolve()}")
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["epochs_run"] >= 3
    assert (out_dir / "model.keras").exists()
    # A checkpoint where it stopped (after the step in flight): the records it counts are all there.
    from trainlab import rundir
    from trainlab.training import checkpoint

    found, passed_over = checkpoint.newest_valid(out_dir)
    assert passed_over == [] and found.meta["records"]["history"] == summary["epochs_run"]
    assert found.meta["records"]["steps"] == len(rundir.read_csv(out_dir / "steps.csv"))


# ---------------------------------------------------------------------------- fast dev run
FAST_PARTS = ["prepare", "train", "checkpoint", "records", "diagnosis", "report"]


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """Where the fast dev run's temporary folder goes (to see that it is removed)."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(folder))
    return folder


def _parts(out):
    lines = out.splitlines()
    assert lines[0] == "fast dev run of tiny:"
    return {line.split()[0]: line for line in lines[1:] if line.startswith("  ")}


@pytest.mark.parametrize("how", [["--fast-dev-run"], ["--set", "training.fast_dev_run=true"]])
def test_fast_dev_run_exercises_every_part_and_leaves_nothing(recipe, tmp_path, scratch, capsys, how):
    assert main(["run", "recipe.yaml", "-q", *how]) == 0
    out, err = capsys.readouterr()
    parts = _parts(out)
    assert list(parts) == [*FAST_PARTS, "total"] and err == ""
    assert "2 training batches of 32" in parts["prepare"] and "1 epoch, 2 batches" in parts["train"]
    assert "tracing" in parts["train"] and "read back: checksum" in parts["checkpoint"]
    assert "steps.csv 2 rows" in parts["records"] and "report.html" in parts["report"]
    assert "every part ran; run directory removed" in parts["total"]
    assert list(scratch.iterdir()) == [] and not (tmp_path / "runs").exists()


def test_fast_dev_run_keeps_its_run_directory_with_out(recipe, tmp_path, scratch, capsys):
    assert main(["run", "recipe.yaml", "-q", "--fast-dev-run", "--out", "dev"]) == 0
    assert f"run directory kept: dev" in capsys.readouterr().out
    summary = json.loads((tmp_path / "dev" / "summary.json").read_text())
    assert summary["sanity"]["fast_dev_run"] is True and summary["epochs_run"] == 1
    assert {"report.html", "monitor.png", "state"} <= {p.name for p in (tmp_path / "dev").iterdir()}


def test_fast_dev_run_names_the_part_that_broke_in_one_line(recipe, tmp_path, scratch, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the figure failed\nmore lines of detail")

    monkeypatch.setattr("trainlab.report._html.write_report", broken)
    assert main(["run", "recipe.yaml", "-q", "--fast-dev-run"]) == 1
    out, err = capsys.readouterr()
    assert err == "trainlab: error: fast dev run, report: RuntimeError: the figure failed\n"
    assert "FAILED: RuntimeError: the figure failed" in _parts(out)["report"]
    assert list(scratch.iterdir()) == []
