"""The catalogue of mistakes with ``trainlab predict``, ``evaluate`` and ``export``, and the one line each prints.

In the spirit of tests/test_bad_input.py (whose cases are recipes): every mistake exits with status 2
and prints exactly one line on stderr, ``trainlab: error: <file, column or option>: <rule>, got
<value>`` (no ``got`` part where there is no value), never a traceback, and writes nothing: no
``--out`` file or folder, nothing new in the run directory.

A case names the run it uses (a session fixture of conftest.py), makes its input files in a fresh
folder, and gives the command's arguments (``{run}`` is the run directory) and the expected start
and end of the message (None: no value; ANY: some value).
"""

from __future__ import annotations

import numpy as np
import pytest
from inference_helpers import write_pngs

from trainlab.cli import main

ANY = object()


def _text(content):
    return lambda folder, name: (folder / name).write_text(content)


def _npz(**arrays):
    return lambda folder, name: np.savez(folder / name, **arrays)


def _png(size, count=1, classes=None):
    def write(folder, name):
        (folder / name).mkdir()
        rng = np.random.default_rng(0)
        write_pngs(folder / name, rng.integers(0, 255, size=(count, *size)).astype(np.uint8), classes)
    return write


def _folder(folder, name):
    (folder / name).mkdir()
    (folder / name / "notes.txt").write_text("no images here\n")


def _bc_rows(header, rows):
    return _text("\n".join([header, *rows]) + "\n")


CSV_HEADER = "gamma,alpha,beta,answer"
CSV_ROWS = ["0.9,0.1,52.0,yes", "1.1,-0.3,47.5,no"]

CASES = [
    # The run directory.
    pytest.param("table_run", {}, ["predict", "runs/none", "x.csv"], "runs/none: is not a run directory (no such"
                 " folder)", None, id="run-dir-missing"),
    pytest.param("table_run", {"empty": lambda f, n: (f / n).mkdir()}, ["predict", "empty", "x.csv"],
                 "empty: has no preprocessing.json: not a run directory, or a run trained by an older trainlab", None,
                 id="run-dir-without-preprocessing"),
    # The input file.
    pytest.param("csv_run", {}, ["predict", "{run}", "missing.csv"], "missing.csv: file not found", None,
                 id="input-missing"),
    pytest.param("csv_run", {"notes.txt": _text("hello\n")}, ["predict", "{run}", "notes.txt"],
                 "notes.txt: is not an input trainlab reads; give a .csv (tables), an .npz", None, id="input-kind"),
    pytest.param("csv_run", {"new.csv": _bc_rows("gamma,alpha,answer", ["0.9,0.1,yes"])},
                 ["predict", "{run}", "new.csv"], "new.csv: column not found; the model needs it (columns: gamma,"
                 " alpha, answer)", "'beta'", id="csv-missing-column"),
    pytest.param("csv_run", {"new.csv": _bc_rows(CSV_HEADER, [CSV_ROWS[0], "1.1,high,47.5,no"])},
                 ["predict", "{run}", "new.csv"], "new.csv: line 3, column 'alpha': must be a number", "'high'",
                 id="csv-text-in-a-number-column"),
    pytest.param("csv_run", {"new.csv": _bc_rows(CSV_HEADER, [CSV_ROWS[0], "1.1,,47.5,no"])},
                 ["predict", "{run}", "new.csv"], "new.csv: line 3, column 'alpha': ", "''", id="csv-gap"),
    pytest.param("csv_run", {"new.csv": _bc_rows(CSV_HEADER, [CSV_ROWS[0], "1.1,0.2"])},
                 ["predict", "{run}", "new.csv"], "new.csv: line 3: every row needs as many cells as the header (4)",
                 "2", id="csv-short-row"),
    pytest.param("csv_run", {"new.csv": _text("")}, ["predict", "{run}", "new.csv"],
                 "new.csv: file is empty; a CSV needs a header row and data rows", None, id="csv-empty"),
    pytest.param("csv_run", {"new.csv": lambda f, n: (f / n).write_bytes(b"a,b\n\xff\xfe,1\n")},
                 ["predict", "{run}", "new.csv"], "new.csv: must be a UTF-8 text file (a CSV with a header row)", ANY,
                 id="csv-not-utf8"),
    pytest.param("image_run", {"new.csv": _bc_rows(CSV_HEADER, CSV_ROWS)}, ["predict", "{run}", "new.csv"],
                 "new.csv: a CSV holds a table, but this run takes images (8x8x1); give images, a folder of images or"
                 " an .npz", None, id="csv-for-an-image-run"),
    pytest.param("table_run", {"new.npz": _npz(features=np.zeros((3, 30)))}, ["predict", "{run}", "new.npz"],
                 "new.npz: needs an array 'x' (or 'X', or 'x_test'); it has", "'features'", id="npz-without-x"),
    pytest.param("table_run", {"new.npz": _npz(x=np.zeros((3, 29)))}, ["predict", "{run}", "new.npz"],
                 "new.npz: array 'x': needs samples shaped as the run's, (30) each", "'shape (3, 29)'",
                 id="npz-wrong-shape"),
    pytest.param("table_run", {"new.npz": _text("x,y\n1,2\n")}, ["predict", "{run}", "new.npz"],
                 "new.npz: is not a readable NumPy .npz archive (a zip of arrays, as numpy.savez writes)", None,
                 id="npz-not-an-archive"),
    pytest.param("image_run", {"new.npz": _npz(x=np.full((2, 8, 8, 1), np.nan))}, ["predict", "{run}", "new.npz"],
                 "new.npz: array 'x': must be finite (no NaN or inf); sample 0, index (0, 0, 0)", "nan",
                 id="npz-nan-pixels"),
    pytest.param("token_run", {"new.npz": _npz(x=np.full((2, 12), 1.5))}, ["predict", "{run}", "new.npz"],
                 "new.npz: array 'x': token ids must be integers; sample 0, step (0,)", "1.5", id="npz-float-tokens"),
    # Images.
    pytest.param("mnist_run", {"imgs": _png((10, 12), 2)}, ["predict", "{run}", "imgs"],
                 "imgs/000.png: must be 8x8 pixels (height x width), as the run's images (the run did not resize its"
                 " images)", "'10x12'", id="image-of-another-size"),
    pytest.param("mnist_run", {"bad.png": _text("not a png")}, ["predict", "{run}", "bad.png"],
                 "bad.png: is not a readable image (not an image file Pillow recognizes)", None,
                 id="image-unreadable"),
    pytest.param("mnist_run", {"imgs": _folder}, ["predict", "{run}", "imgs"],
                 "imgs: holds no images (.bmp, .gif, .jpeg, .jpg, .png)", None, id="folder-without-images"),
    pytest.param("table_run", {"imgs": _png((8, 8))}, ["predict", "{run}", "imgs"],
                 "imgs: is a folder (of images?), but this run takes a table of 30 features; give a .csv, a DataFrame"
                 " or an array", None, id="images-for-a-table-run"),
    pytest.param("table_run", {}, ["predict", "{run}", "x.csv", "--batch-size", "0"], "--batch-size: must be >= 1",
                 "0", id="batch-size-zero"),
    pytest.param("csv_run", {"new.csv": _bc_rows(CSV_HEADER, CSV_ROWS)},
                 ["predict", "{run}", "new.csv", "--out", "nowhere/p.csv"], "--out: folder not found: nowhere",
                 "'nowhere/p.csv'", id="out-in-a-missing-folder"),
    # evaluate: the labels.
    pytest.param("csv_run", {"new.csv": _bc_rows(CSV_HEADER, [CSV_ROWS[0], "1.1,-0.3,47.5,maybe"])},
                 ["evaluate", "{run}", "new.csv", "--out", "ev"], "new.csv: row 1 holds a class that is not among the"
                 " run's classes (no, yes)", "'maybe'", id="evaluate-unknown-class"),
    pytest.param("csv_run", {"new.csv": _bc_rows(CSV_HEADER, CSV_ROWS)},
                 ["evaluate", "{run}", "new.csv", "--target", "anser", "--out", "ev"],
                 "new.csv: has no target column (did you mean 'answer'?); columns: gamma, alpha, beta, answer",
                 "'anser'", id="evaluate-target-missing"),
    pytest.param("table_run", {}, ["evaluate", "{run}", "new.npz", "--split", "val"],
                 "--split: evaluates the run's own split; give DATA or --split, not both", "'val'",
                 id="evaluate-data-and-split"),
    pytest.param("mnist_run", {"imgs": _png((8, 8), 2)}, ["evaluate", "{run}", "imgs", "--out", "ev"],
                 "imgs: to evaluate, put each image in the sub-folder of its class (folder/<class>/...); an image"
                 " outside one", "'000.png'", id="evaluate-images-without-classes"),
    pytest.param("mnist_run", {"imgs": _png((8, 8), 2, np.array(["1", "zebra"]))},
                 ["evaluate", "{run}", "imgs", "--out", "ev"],
                 "imgs: row 1 holds a class that is not among the run's classes (0, 1, 2)", "'zebra'",
                 id="evaluate-image-class-unknown"),
    pytest.param("table_run", {"new.npz": _npz(x=np.zeros((3, 30)))}, ["evaluate", "{run}", "new.npz", "--out", "ev"],
                 "new.npz: needs the labels of 'x' as an array 'y'; it has", "'x'", id="evaluate-npz-without-y"),
    pytest.param("csv_run", {"data.csv": _text("a,b\n1,2\n")}, ["evaluate", "{run}", "data.csv", "--out", "ev"],
                 "data.csv: has no target column", ANY, id="evaluate-no-target-column"),
    # export.
    pytest.param("table_run", {}, ["export", "{run}", "--format", "keras", "--out", "model.h5"],
                 "--out: a keras export is a file ending in .keras", "'model.h5'", id="export-keras-suffix"),
    pytest.param("table_run", {}, ["export", "{run}", "--format", "tflite"],
                 "--format: unknown value", ANY, id="export-unknown-format"),
]


def _snapshot(*folders):
    return {p: p.stat().st_mtime_ns for folder in folders for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("run, files, argv, start, got", CASES)
def test_a_mistake_is_one_line_and_writes_nothing(request, tmp_path, monkeypatch, capsys, run, files, argv, start,
                                                  got):
    trained = request.getfixturevalue(run)
    monkeypatch.chdir(tmp_path)
    for name, make in files.items():
        make(tmp_path, name)
    before = _snapshot(tmp_path, trained.dir)
    status = main([a.replace("{run}", str(trained.dir)) for a in argv])
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert status == 2, (status, err)
    assert len(lines) == 1 and out == "", err
    assert "Traceback" not in err and lines[0].startswith("trainlab: error: ")
    message = lines[0].removeprefix("trainlab: error: ")
    assert message.startswith(start), message
    if got is None:
        assert ", got " not in message, message
    elif got is ANY:
        assert ", got " in message, message
    else:
        assert message.endswith(f", got {got}"), message
    assert _snapshot(tmp_path, trained.dir) == before  # no --out file or folder, nothing new in the run directory
