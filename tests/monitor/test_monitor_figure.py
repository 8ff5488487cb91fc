"""monitor_figure(): tutorial section 10's 2x3 monitor drawn from records; data read back from the axes."""

import numpy as np
import pytest

from trainlab.monitor import load, monitor_figure
from trainlab.monitor._monitor import moving_average

TITLES = ["Loss", "Accuracy", "Learning rate", "Gradient norm (global, before clipping)",
          "Overfitting gap: val loss − train loss", "Stability: loss per step"]


def line(ax, label):
    """The one line in ``ax`` with this legend label."""
    (found,) = [ln for ln in ax.get_lines() if ln.get_label() == label]
    return found


def labels(ax):
    return [ln.get_label() for ln in ax.get_lines()]


def texts(ax):
    return " | ".join(t.get_text() for t in ax.texts)


def test_six_panels_with_titles_units_and_size(run_dir):
    fig = monitor_figure(load(run_dir()))
    assert len(fig.axes) == 6
    assert [ax.get_title().split("\n")[0] for ax in fig.axes] == TITLES
    assert "dropout on" in fig.axes[4].get_title()
    assert [ax.get_xlabel() for ax in fig.axes] == ["epoch", "epoch", "step", "step", "epoch", "step"]
    assert tuple(fig.get_size_inches()) == (15, 8) and fig.dpi == 100
    assert fig.get_suptitle().startswith("synthetic: training monitor, 8 epochs (completed), best epoch 5")


def test_loss_and_metric_panels_plot_the_records(run_dir):
    fig = monitor_figure(load(run_dir(epochs=8)))
    loss, metric = fig.axes[:2]
    e = np.arange(1, 9)
    assert labels(loss)[:2] == ["train", "validation"]
    assert loss.get_lines()[0].get_xdata() == pytest.approx(e)
    assert loss.get_lines()[0].get_ydata() == pytest.approx(1 / e)
    assert loss.get_lines()[1].get_ydata() == pytest.approx(1 / e + 0.01 * e)
    assert line(metric, "train").get_ydata() == pytest.approx(1 - 1 / (e + 1))
    assert line(metric, "validation").get_ydata() == pytest.approx(1 - 1 / (e + 1) - 0.05)


def test_best_epoch_and_early_stopping_are_marked_on_every_epoch_panel(run_dir):
    fig = monitor_figure(load(run_dir(epochs=8, best_epoch=3, stopped_early=True)))
    for ax in (fig.axes[0], fig.axes[1], fig.axes[4]):
        assert line(ax, "best epoch 3").get_xdata() == pytest.approx([3, 3])
        assert line(ax, "stopped early (8)").get_xdata() == pytest.approx([8, 8])
        assert {"best epoch 3", "stopped early (8)"} <= {t.get_text() for t in ax.get_legend().get_texts()}
    assert "stopped early" in fig.get_suptitle()


def test_without_early_stopping_no_stop_line(run_dir):
    fig = monitor_figure(load(run_dir(best_epoch=4)))
    assert not [lb for lb in labels(fig.axes[0]) if lb.startswith("stopped")]


def test_learning_rate_per_step_on_a_log_axis_when_it_spans_more_than_ten_times(run_dir):
    rates = [1e-3 * 0.5 ** e for e in range(8)]
    ax = monitor_figure(load(run_dir(epochs=8, steps_per_epoch=4, lr=rates))).axes[2]
    (lr,) = ax.get_lines()
    assert lr.get_xdata() == pytest.approx(np.arange(1, 33))
    assert lr.get_ydata() == pytest.approx(np.repeat(rates, 4))
    assert ax.get_yscale() == "log"


def test_constant_learning_rate_on_a_linear_axis_from_zero(run_dir):
    ax = monitor_figure(load(run_dir(lr=3e-3))).axes[2]
    assert ax.get_yscale() == "linear"
    assert ax.get_ylim()[0] == 0 and ax.get_ylim()[1] > 3e-3
    assert "constant 0.003" in texts(ax)


def test_gradient_norm_per_step_with_epoch_mean_and_max_at_each_epochs_last_step(run_dir):
    ax = monitor_figure(load(run_dir(epochs=3, steps_per_epoch=4))).axes[3]
    assert labels(ax) == ["per step", "epoch mean", "epoch max"]
    assert line(ax, "per step").get_ydata() == pytest.approx(np.arange(1, 13) / 10)
    assert line(ax, "epoch mean").get_xdata() == pytest.approx([4, 8, 12])
    assert line(ax, "epoch mean").get_ydata() == pytest.approx([0.25, 0.65, 1.05])
    assert line(ax, "epoch max").get_ydata() == pytest.approx([0.4, 0.8, 1.2])
    assert ax.get_yscale() == "log"


def test_gap_is_validation_minus_training_loss_with_a_zero_line(run_dir):
    ax = monitor_figure(load(run_dir(epochs=6))).axes[4]
    e = np.arange(1, 7)
    assert line(ax, "gap").get_xdata() == pytest.approx(e)
    assert line(ax, "gap").get_ydata() == pytest.approx(0.01 * e)
    assert any(np.allclose(ln.get_ydata(), 0) and ln.get_linestyle() == "-" for ln in ax.get_lines()
               if ln.get_label().startswith("_"))


def test_gap_uses_the_re_evaluated_training_loss_when_recorded(run_dir):
    ax = monitor_figure(load(run_dir(epochs=6, train_eval=True))).axes[4]
    e = np.arange(1, 7)
    assert "both in inference mode" in ax.get_title() and "estimate" not in ax.get_title()
    assert line(ax, "gap (train re-evaluated)").get_ydata() == pytest.approx(1 / e + 0.01 * e - 0.9 / e)
    estimate = line(ax, "val − running train loss (dropout on)")
    assert estimate.get_ydata() == pytest.approx(0.01 * e) and estimate.get_linestyle() == "--"
    assert "gap (train re-evaluated)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_stability_plots_step_loss_and_a_five_epoch_moving_average(run_dir):
    ax = monitor_figure(load(run_dir(epochs=8, steps_per_epoch=4))).axes[5]
    steps = np.arange(1, 33)
    raw = 1 / np.repeat(np.arange(1, 9), 4) + 0.1 * (steps % 2)
    assert line(ax, "per step").get_ydata() == pytest.approx(raw)
    smooth = line(ax, "5-epoch moving average (20 steps)").get_ydata()
    # Centred window of 20 steps: points i-10 .. i+9, fewer near the ends.
    assert smooth == pytest.approx([raw[max(0, i - 10):i + 10].mean() for i in range(32)])


def test_moving_average_is_centred_and_shrinks_at_the_ends():
    assert moving_average(np.array([1.0, 2, 3, 4, 10]), 3) == pytest.approx([1.5, 2, 3, 17 / 3, 7])
    assert moving_average(np.array([1.0, 2]), 50) == pytest.approx([1.5, 1.5])


def test_regression_records_show_mae_not_accuracy(run_dir):
    fig = monitor_figure(load(run_dir(metrics=("mae", "mse"), epochs=5)))
    ax = fig.axes[1]
    assert ax.get_title() == "MAE" and ax.get_ylabel() == "mae"
    assert line(ax, "train").get_ydata() == pytest.approx(1 - 1 / (np.arange(1, 6) + 1))
    assert not [a for a in fig.axes if "ccuracy" in a.get_title()]


def test_records_without_any_metric_say_so(run_dir):
    ax = monitor_figure(load(run_dir(metrics=()))).axes[1]
    assert ax.get_lines() == [] and "no metric" in texts(ax)


def test_a_run_without_validation_plots_training_only(run_dir):
    fig = monitor_figure(load(run_dir(validation_every=None, best_epoch=8)))
    loss, metric, gap = fig.axes[0], fig.axes[1], fig.axes[4]
    assert labels(loss) == ["train", "best epoch 8"]
    assert labels(metric) == ["train", "best epoch 8"]
    assert gap.get_lines() == [] and "no validation loss" in texts(gap)


def test_epochs_without_validation_are_skipped_not_zero(run_dir):
    fig = monitor_figure(load(run_dir(epochs=7, validation_every=3)))
    val = line(fig.axes[0], "validation")
    assert val.get_xdata() == pytest.approx([3, 6, 7])
    assert val.get_ydata() == pytest.approx([1 / 3 + 0.03, 1 / 6 + 0.06, 1 / 7 + 0.07])
    assert line(fig.axes[4], "gap").get_xdata() == pytest.approx([3, 6, 7])
    assert fig.axes[0].get_xlim()[0] < 1  # every epoch panel still spans the whole run


def test_a_diverging_run_plots_its_finite_points_and_says_where_it_broke(run_dir):
    fig = monitor_figure(load(run_dir(epochs=5, steps_per_epoch=4, nan_from_epoch=3)))
    loss, _, _, grad, gap, stability = fig.axes
    assert line(loss, "train").get_ydata() == pytest.approx([1.0, 0.5])
    assert "non-finite from epoch 3" in texts(loss)
    assert "non-finite from epoch 3" in texts(gap)
    assert line(stability, "per step").get_xdata() == pytest.approx(np.arange(1, 9))
    assert "non-finite from step 9 (epoch 3)" in texts(stability)
    assert "non-finite from step 9 (epoch 3)" in texts(grad)
    fig.canvas.draw()  # and it renders


def test_no_step_records_leave_a_note_not_an_empty_panel(run_dir):
    path = run_dir()
    (path / "steps.csv").write_text("step,epoch,loss,grad_norm,lr\n")
    fig = monitor_figure(path)  # a run directory works as well as records
    for ax in (fig.axes[2], fig.axes[3], fig.axes[5]):
        assert ax.get_lines() == [] and "steps.csv" in texts(ax)
