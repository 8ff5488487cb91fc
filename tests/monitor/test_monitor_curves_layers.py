"""curves_figure() and layers_figure(): the records' curves, read back from the axes."""

import numpy as np
import pytest

from trainlab.monitor import curves_figure, layers_figure, load


def line(ax, label):
    (found,) = [ln for ln in ax.get_lines() if ln.get_label() == label]
    return found


def test_curves_has_loss_then_each_metric_with_train_and_validation(run_dir):
    fig = curves_figure(load(run_dir(metrics=("mae", "mse"), epochs=6, best_epoch=4)))
    assert [ax.get_title() for ax in fig.axes] == ["Loss", "MAE", "MSE"]
    e = np.arange(1, 7)
    for ax in fig.axes:
        assert ax.get_xlabel() == "epoch"
        assert line(ax, "best epoch 4").get_xdata() == pytest.approx([4, 4])
    assert line(fig.axes[0], "validation").get_ydata() == pytest.approx(1 / e + 0.01 * e)
    assert line(fig.axes[2], "train").get_ydata() == pytest.approx(1 - 1 / (e + 1))
    assert line(fig.axes[2], "validation").get_ydata() == pytest.approx(1 - 1 / (e + 1) - 0.05)


def test_curves_grid_drops_unused_cells(run_dir):
    fig = curves_figure(load(run_dir(metrics=("accuracy", "auc", "precision"))))
    assert [ax.get_title() for ax in fig.axes] == ["Loss", "Accuracy", "AUC", "Precision"]
    assert tuple(fig.get_size_inches()) == (15, 8.4)


def test_curves_of_a_diverging_run(run_dir):
    ax = curves_figure(load(run_dir(epochs=5, nan_from_epoch=4))).axes[0]
    assert line(ax, "train").get_ydata() == pytest.approx([1, 1 / 2, 1 / 3])
    assert "non-finite from epoch 4" in " ".join(t.get_text() for t in ax.texts)


def test_layers_has_one_line_per_layer_in_each_panel(run_dir):
    fig = layers_figure(load(run_dir(epochs=4, best_epoch=2)))
    grad, weight = fig.axes
    e = np.arange(1, 5)
    assert grad.get_title().startswith("Gradient norm per layer") and weight.get_title().startswith("Weight norm")
    for k, name in enumerate(["dense_1", "dense_2", "output"]):
        assert grad.get_lines()[k].get_label() == name
        assert grad.get_lines()[k].get_ydata() == pytest.approx((k + 1) * 10.0 ** -e)
        assert line(weight, name).get_ydata() == pytest.approx(k + 1 + e / 10)
        assert line(grad, name).get_color() == line(weight, name).get_color()
    assert grad.get_yscale() == "log" and weight.get_yscale() == "linear"
    assert line(grad, "best epoch 2").get_xdata() == pytest.approx([2, 2])
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["dense_1", "dense_2", "output", "best epoch 2"]


def test_layers_without_records_say_so(run_dir):
    path = run_dir()
    (path / "layers.csv").unlink()
    fig = layers_figure(path)
    assert all(ax.get_lines() == [] and "layers.csv" in ax.texts[0].get_text() for ax in fig.axes)


def test_curves_add_the_training_split_re_evaluated_dashed(run_dir):
    fig = curves_figure(load(run_dir(epochs=6, train_eval=True)))
    e = np.arange(1, 7)
    loss, accuracy = fig.axes
    assert [ln.get_label() for ln in loss.get_lines()][:3] == ["train", "validation", "train, inference mode"]
    assert line(loss, "train, inference mode").get_ydata() == pytest.approx(0.9 / e)
    assert line(loss, "train, inference mode").get_linestyle() == "--"
    assert line(accuracy, "train, inference mode").get_ydata() == pytest.approx(1 - 1 / (e + 1) + 0.01)


def test_layers_with_newer_records_add_update_ratio_and_activation_panels(run_dir):
    fig = layers_figure(load(run_dir(epochs=5, best_epoch=3, layer_extras=True)))
    grad, weight, update, activations = fig.axes
    e = np.arange(1, 6)
    assert update.get_title().startswith("Update ratio per layer") and update.get_yscale() == "log"
    assert activations.get_title().startswith("Activations: dead ReLU units")
    for k, name in enumerate(["dense_1", "dense_2", "output"]):
        assert line(update, name).get_ydata() == pytest.approx((k + 1) * 0.1 / e)
        assert line(update, name).get_color() == line(grad, name).get_color()
    assert line(activations, "dense_2 (dead)").get_ydata() == pytest.approx(0.1 + 0.01 * e)
    assert line(activations, "output (saturated)").get_ydata() == pytest.approx(0.05 * e / 5)
    assert line(activations, "output (saturated)").get_linestyle() == "--"
    assert line(activations, "output (saturated)").get_color() == line(grad, "output").get_color()
    assert activations.get_ylim() == pytest.approx((-0.03, 1.03))
    assert line(activations, "best epoch 3").get_xdata() == pytest.approx([3, 3])
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["dense_1", "dense_2", "output", "best epoch 3"]
