"""save_figures(): PNGs in the run directory, from synthetic records and from a real tiny run."""

import struct

import pytest

import trainlab
from trainlab.errors import TrainlabError
from trainlab.monitor import monitor_figure, save_figures


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_save_figures_writes_three_pngs_into_the_run_directory(run_dir):
    path = run_dir()
    written = save_figures(path)
    assert written == [path / "monitor.png", path / "curves.png", path / "layers.png"]
    assert png_size(path / "monitor.png") == (1500, 800)
    assert all(p.stat().st_size > 10_000 for p in written)
    assert not list(path.glob("*.tmp"))


def test_save_figures_adds_weights_png_when_the_run_has_weights_npz(run_dir):
    path = run_dir(weights=True, layer_extras=True, train_eval=True)
    written = save_figures(path)
    assert [p.name for p in written] == ["monitor.png", "curves.png", "layers.png", "weights.png"]
    assert png_size(path / "layers.png") == (1400, 1000)
    assert (path / "weights.png").stat().st_size > 10_000


def test_save_figures_of_a_diverging_run_without_validation(run_dir):
    path = run_dir(validation_every=None, nan_from_epoch=2)
    assert all(p.stat().st_size > 0 for p in save_figures(path))


def test_save_figures_names_the_missing_file(tmp_path):
    with pytest.raises(TrainlabError, match=r"history\.csv"):
        save_figures(tmp_path)


def test_figures_of_a_real_run_show_its_records(tmp_path, tiny_recipe):
    recipe = dict(tiny_recipe, training={**tiny_recipe["training"], "epochs": 3})
    run = trainlab.train(recipe, out=tmp_path / "run")
    written = save_figures(run.dir)
    # weights.png once the trainer writes weights.npz (older trainers do not).
    assert [p.name for p in written] == ["monitor.png", "curves.png", "layers.png",
                                         *(["weights.png"] if (run.dir / "weights.npz").exists() else [])]
    assert all(p.stat().st_size > 10_000 for p in written)
    loss, accuracy, lr, grad, gap, stability = monitor_figure(run.dir).axes
    assert loss.get_lines()[0].get_ydata() == pytest.approx([r["loss"] for r in run.history])
    assert loss.get_lines()[1].get_ydata() == pytest.approx([r["val_loss"] for r in run.history])
    assert accuracy.get_lines()[1].get_ydata() == pytest.approx([r["val_accuracy"] for r in run.history])
    best = run.summary["best_epoch"]
    assert [ln.get_xdata()[0] for ln in loss.get_lines() if ln.get_label() == f"best epoch {best}"] == [best]
    assert len(stability.get_lines()[0].get_ydata()) == len(lr.get_lines()[0].get_ydata()) > 3
