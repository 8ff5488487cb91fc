"""weights_figure(): per-layer histograms of weights.npz's kernels, first against last epoch."""

import numpy as np
import pytest

from trainlab.monitor import load, weights_figure


def test_one_panel_per_layer_with_the_first_and_last_epochs_on_shared_bins(run_dir):
    records = load(run_dir(epochs=7, weights=True))
    fig = weights_figure(records)
    assert [ax.get_title() for ax in fig.axes] == ["dense_1", "dense_2", "output"]
    for ax, layer in zip(fig.axes, ["dense_1", "dense_2", "output"]):
        first, last = records.weights[layer][1], records.weights[layer][7]
        bins = np.histogram_bin_edges(np.concatenate([first, last]), bins=60)
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("kernel weight value", "count")
        # The filled histogram's outline and the step line trace np.histogram's counts.
        for patch, values in zip(ax.patches, (first, last)):
            heights = patch.get_path().vertices[:, 1]
            assert heights.max() == pytest.approx(np.histogram(values, bins)[0].max())
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == [f"epoch 1 (std {np.std(first):.3g})", f"epoch 7 (std {np.std(last):.3g})"]
    assert fig.get_suptitle().startswith("synthetic: kernel weights, first and last epoch, 7 epochs")


def test_a_one_epoch_run_shows_one_histogram(run_dir):
    path = run_dir(epochs=1, best_epoch=1)
    np.savez(path / "weights.npz", **{"dense/epoch_1": np.array([0.0, 1.0, 2.0], dtype=np.float32)})
    ax = weights_figure(load(path)).axes[0]
    assert len(ax.patches) == 1
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [f"epoch 1 (std {np.std([0, 1, 2]):.3g})"]


def test_non_finite_kernel_values_are_left_out_and_counted(run_dir):
    path = run_dir()
    values = np.array([0.1, -0.2, np.nan, np.inf, 0.3], dtype=np.float32)
    np.savez(path / "weights.npz", **{"dense/epoch_1": values, "dense/epoch_8": values * 2})
    ax = weights_figure(load(path)).axes[0]
    assert "4 non-finite values left out" in " ".join(t.get_text() for t in ax.texts)
    assert len(ax.patches) == 2


def test_without_weights_npz_the_figure_says_so(run_dir):
    fig = weights_figure(load(run_dir()))
    assert len(fig.axes) == 1 and "no weights.npz" in fig.axes[0].texts[0].get_text()


def test_many_layers_wrap_into_rows_of_four(run_dir):
    path = run_dir()
    np.savez(path / "weights.npz", **{f"dense_{k}/epoch_1": np.arange(10, dtype=np.float32) for k in range(6)})
    fig = weights_figure(load(path))
    assert len(fig.axes) == 6
    assert tuple(fig.get_size_inches()) == pytest.approx((4 * 4.2, 2 * 3.4 + 0.5))


def test_a_long_title_on_a_narrow_figure_wraps_inside_it(run_dir):
    # One panel is 4.2 inches wide; a run's title (name, epochs, status, best epoch) is wider. It was cut off at
    # both ends; it now wraps onto lines that fit the figure.
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = run_dir(epochs=1, best_epoch=1)
    np.savez(path / "weights.npz", **{"dense/epoch_1": np.array([0.0, 1.0, 2.0], dtype=np.float32)})
    fig = weights_figure(load(path))
    assert "\n" in fig.get_suptitle()
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.get_layout_engine().execute(fig)
    extent = fig._suptitle.get_window_extent(renderer)
    assert 0 <= extent.x0 and extent.x1 <= fig.bbox.width
