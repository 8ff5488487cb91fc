"""A study's figures and report, read back from the axes and the HTML (synthetic studies from conftest.py)."""

import base64
import html
import math
import re

import numpy as np
import pytest

from trainlab.studies.figures import (
    curves_figure,
    final_figure,
    load_runs,
    seed_band,
    study_figures,
    variant_colors,
    weights_figure,
)
from trainlab.studies.report import write_study_report
from trainlab.studies.stats import read_study

PNG = b"\x89PNG\r\n\x1a\n"


def line(ax, label):
    (found,) = [ln for ln in ax.get_lines() if ln.get_label() == label]
    return found


def caption(fig):
    return fig._supxlabel.get_text()


def fake_figures(study_dir, names=("curves.png", "final.png", "weights.png")):
    """Stand-in PNGs, so a report test embeds them instead of rendering real figures (a second each)."""
    for name in names:
        (study_dir / name).write_bytes(PNG + name.encode())


@pytest.fixture(scope="module")
def tutorial(tutorial_study):
    """The tutorial study read back once, with its runs' records."""
    study = read_study(tutorial_study)
    return study, load_runs(study)


# --- seed_band ---------------------------------------------------------------------------------------------------

def test_seed_band_averages_the_seeds_that_reached_each_epoch():
    band = seed_band([
        (np.array([1, 2, 3]), np.array([1.0, 2.0, 3.0])),
        (np.array([1, 2]), np.array([3.0, 4.0])),             # stopped early
        (np.array([1, 2, 3]), np.array([2.0, np.nan, 6.0])),  # a non-finite value
        (np.array([]), np.array([])),                         # nothing recorded
    ])
    assert band.epochs == pytest.approx([1, 2, 3])
    assert band.mean == pytest.approx([2.0, 3.0, 4.5])
    assert band.low == pytest.approx([1.0, 2.0, 3.0]) and band.high == pytest.approx([3.0, 4.0, 6.0])
    assert list(band.count) == [3, 2, 2]


def test_seed_band_drops_epochs_without_a_finite_value():
    band = seed_band([(np.array([1, 2]), np.array([1.0, np.nan])), (np.array([1, 2]), np.array([3.0, np.inf]))])
    assert band.epochs == pytest.approx([1]) and band.mean == pytest.approx([2.0])
    assert len(seed_band([]).epochs) == 0


# --- curves.png --------------------------------------------------------------------------------------------------

def test_curves_show_the_mean_over_seeds_per_variant(tutorial):
    fig = curves_figure(*tutorial)
    loss, val_loss, metric = fig.axes
    assert [ax.get_title() for ax in fig.axes] == ["Loss (training)", "Loss (validation)", "Accuracy (validation)"]
    assert all(ax.get_xlabel() == "epoch" for ax in fig.axes) and metric.get_ylabel() == "val_accuracy"
    e = np.arange(1, 9)
    # Seeds 0..4: loss 1/e + 0.1 k + 0.01 s averages to 1/e + 0.1 k + 0.02.
    assert line(loss, "none").get_ydata() == pytest.approx(1 / e + 0.02)
    assert line(val_loss, "batch_norm").get_ydata() == pytest.approx(1 / e + 0.2 + 0.02 + 0.05)
    assert "mean over 5 seeds per variant" in fig._suptitle.get_text()
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "none (5)", "dropout (5)", "batch_norm (5)", "batch_norm+dropout (5)"]


def test_curves_of_a_run_that_stopped_early_thin_out_dashed(tutorial):
    loss = curves_figure(*tutorial).axes[0]
    e = np.arange(1, 9)
    solid, dashed = [ln for ln in loss.get_lines() if ln.get_color() == line(loss, "dropout").get_color()][:2]
    # dropout seed 1 stopped at epoch 5: epochs 6-8 average seeds 0, 2, 3, 4 (mean seed 2.25) and are dashed.
    expected = 1 / e + 0.1 + np.where(e <= 5, 0.02, 0.0225)
    assert solid.get_label() == "dropout" and solid.get_linestyle() == "-"
    assert np.asarray(solid.get_ydata())[:5] == pytest.approx(expected[:5])
    assert np.isnan(np.asarray(solid.get_ydata())[5:]).all()
    assert dashed.get_linestyle() == "--" and dashed.get_ydata() == pytest.approx(expected)


def test_curves_mark_where_a_seed_diverged(tutorial):
    fig = curves_figure(*tutorial)
    loss = fig.axes[0]
    # batch_norm+dropout seed 2 turns NaN from epoch 3: a red x on the variant's mean at epoch 2.
    (mark,) = [ln for ln in loss.get_lines() if ln.get_label() == "_diverged"]
    assert mark.get_xdata() == pytest.approx([2]) and mark.get_ydata() == pytest.approx([1 / 2 + 0.3 + 0.02])
    assert "red x: a seed's values turn non-finite" in caption(fig)
    assert "dashed: fewer seeds remain (1 run stopped early or diverged)" in caption(fig)


def test_curves_without_validation_metric_say_so(make_study):
    study = read_study(make_study({"a": [0.5]}, epochs=3, weights=False, metric="val_auc"))
    fig = curves_figure(study)
    assert fig.axes[2].get_title() == "AUC (validation)"
    assert "no run recorded val_auc" in fig.axes[2].texts[0].get_text()


# --- final.png ---------------------------------------------------------------------------------------------------

def test_final_ranks_variants_best_at_the_top_with_a_dot_per_seed(tutorial):
    study, _ = tutorial
    ax = final_figure(study).axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    positions = list(ax.get_yticks())
    assert labels == ["batch_norm\n(n=5)", "none\n(n=5)", "dropout\n(n=5)", "batch_norm+dropout\n(n=4, 1 failed)"]
    assert positions == sorted(positions, reverse=True)  # the first label is the top row
    dots = [c for c in ax.collections if c.get_offsets().shape[0] > 1]
    values = study.values()
    for collection, variant in zip(dots, ["batch_norm", "none", "dropout", "batch_norm+dropout"]):
        finite = [v for v in values[variant] if math.isfinite(v)]
        assert sorted(collection.get_offsets()[:, 0]) == pytest.approx(sorted(finite))
    assert ax.get_xlabel() == "val_accuracy at each run's best epoch"


def test_final_in_min_mode_and_with_every_run_failed(make_study):
    study = read_study(make_study({"a": [0.3, 0.31], "b": [0.25, 0.2], "c": [math.nan, math.nan]},
                                  metric="val_loss", mode="min", epochs=2, weights=False))
    fig = final_figure(study)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b\n(n=2)", "a\n(n=2)", "c\n(n=0, 2 failed)"]
    assert "all runs failed" in [t.get_text() for t in ax.texts]
    assert "lower is better" in fig._suptitle.get_text()


# --- weights.png -------------------------------------------------------------------------------------------------

def test_weights_histogram_and_norm_bars(tutorial):
    study, runs = tutorial
    fig = weights_figure(study, runs)
    hist, l1, l2 = fig.axes
    assert "dense_1" in fig._suptitle.get_text() and hist.get_title().endswith("seed 0")
    assert [t.get_text() for t in hist.get_legend().get_texts()] == [
        "none (epoch 8)", "dropout (epoch 8)", "batch_norm (epoch 8)", "batch_norm+dropout (epoch 8)"]
    # Seed 0's final kernel of variant k is linspace(-1, 1, 64) / (k + 1): the bins span [-1, 1].
    xs = np.concatenate([p.get_xy()[:, 0] for p in hist.patches])
    assert (xs.min(), xs.max()) == pytest.approx((-1, 1))
    # Final weight_l1 of dense_1 is 10 (1 + k) + s; batch_norm+dropout's seed 2 diverged and is left out.
    l1_widths = [b.get_width() for b in l1.patches]
    assert l1_widths == pytest.approx([12, 22, 32, 40 + np.mean([0, 1, 3, 4])])
    assert [b.get_width() for b in l2.patches] == pytest.approx([1.2, 2.2, 3.2, 4 + 0.1 * np.mean([0, 1, 3, 4])])
    assert [t.get_text() for t in l1.get_yticklabels()] == list(study.variants)


def test_each_variant_keeps_its_colour_in_every_figure(tutorial):
    study, runs = tutorial
    colors = variant_colors(list(study.variants))
    curves, final, weights = curves_figure(study, runs), final_figure(study), weights_figure(study, runs)
    for variant, color in colors.items():
        assert line(curves.axes[0], variant).get_color() == color
    ranked = ["batch_norm", "none", "dropout", "batch_norm+dropout"]
    dots = [c for c in final.axes[0].collections if c.get_offsets().shape[0] > 1]
    for collection, variant in zip(dots, ranked):
        assert tuple(collection.get_facecolor()[0][:3]) == pytest.approx(colors[variant][:3])
    for patch, variant in zip(weights.axes[1].patches, study.variants):
        assert tuple(patch.get_facecolor()[:3]) == pytest.approx(colors[variant][:3])


def test_many_variants_get_distinct_colours():
    for n in (3, 12, 25):
        colors = variant_colors([f"v{k}" for k in range(n)])
        assert len({tuple(np.round(c, 4)) for c in colors.values()}) == n


# --- study_figures and the report on whole directories -----------------------------------------------------------

def test_report_of_the_tutorial_study(tutorial_study):
    fake_figures(tutorial_study)
    page = write_study_report(tutorial_study).read_text(encoding="utf-8")
    assert (tutorial_study / "summary.csv").is_file() and (tutorial_study / "comparisons.csv").is_file()
    assert "<h1>synthetic-study: study report</h1>" in page
    assert "batch_norm is best on val_accuracy (0.957 ± 0.0076 sd, n=5)." in page
    # p=0.012 alone; the reference was picked after the fact, so all 6 pairs of the 4 variants are corrected for.
    assert "batch_norm+dropout: 0.942, not distinguishable from batch_norm at 4 and 5 seeds (p=0.074, Holm-adjusted " \
           "for 6 comparisons; p=0.012 alone): the difference is -0.0157, 95% CI [-0.0267, -0.0046] " \
           "(1 of 5 runs failed and is left out)." in page
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert [base64.b64decode(i) for i in images] == [PNG + b"curves.png", PNG + b"final.png", PNG + b"weights.png"]
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page) and "@import" not in page
    assert '<a href="runs/dropout/seed1/">seed 1</a>' in page
    assert '<a href="runs/batch_norm%2Bdropout/seed2/">seed 2</a> failed' in page
    assert "<td class=\"text\">sequential</td>" in page and "The whole study took 12.5 s." in page
    assert "<code>model.dropout=0.1</code>" in page


def test_one_variant_one_seed_one_epoch_and_a_run_without_records(make_study):
    study_dir = make_study({"adam": [0.9, math.nan]}, epochs=1, no_records=[("adam", 1)])
    paths = study_figures(study_dir)
    assert [p.name for p in paths] == ["curves.png", "final.png", "weights.png"]
    assert all(p.read_bytes().startswith(PNG) for p in paths)
    page = write_study_report(study_dir).read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 3
    study = read_study(study_dir)
    fig = curves_figure(study)
    assert "one seed per variant" in caption(fig) and "no records: adam seed 1" in caption(fig)
    assert "mean over 1 seed per variant" in fig._suptitle.get_text()
    assert list(fig.axes[0].get_xticks()) == [1]
    assert [t.get_text() for t in final_figure(study).axes[0].get_yticklabels()] == ["adam\n(n=1, 1 failed)"]
    assert "adam is best on val_accuracy (0.9, n=1, the only variant) (1 of 2 runs failed and is left out)." in page
    assert "A single variant: nothing to compare." in page
    assert "seed 1 (no records) failed" in page


def test_single_seed_studies_say_there_is_no_spread(make_study, monkeypatch):
    study_dir = make_study({"a": [0.9], "b": [0.8]}, epochs=2, weights=False)
    assert "one seed per variant" in caption(curves_figure(read_study(study_dir)))
    drawn = []
    monkeypatch.setattr("trainlab.studies.report.study_figures",
                        lambda d: drawn.append(d) or fake_figures(d, ("curves.png", "final.png")))
    page = write_study_report(study_dir).read_text(encoding="utf-8")
    assert drawn == [study_dir] and page.count("data:image/png;base64,") == 2  # the report drew what was missing
    assert "b: 0.8 (n=1), cannot be told apart from a (n=1)" in page


def test_report_escapes_every_label(make_study):
    label = "a<b>&\"c'"
    study_dir = make_study({label: [0.9, 0.91], "plain": [0.8, 0.82]}, epochs=1, weights=False,
                           name="<script>alert(1)</script>")
    fake_figures(study_dir, ("curves.png", "final.png"))
    page = write_study_report(study_dir).read_text(encoding="utf-8")
    assert "<script>" not in page and "a<b>" not in page
    assert f"<h1>{html.escape('<script>alert(1)</script>')}: study report</h1>" in page
    assert f"{html.escape(label)} is best on val_accuracy" in page
    assert 'href="runs/a%3Cb%3E%26%22c%27/seed0/"' in page


def test_report_says_the_reference_was_picked_as_the_best_and_corrected_for(tutorial_study):
    fake_figures(tutorial_study)
    page = write_study_report(tutorial_study).read_text(encoding="utf-8")
    said = ("batch_norm, the best mean, chosen after the fact; p-values Holm-adjusted for 6 comparisons "
            "(every pair of variants)")
    assert f"<b>reference</b> {said}" in page and f"The reference: {said}." in page
    assert "<th>p (Holm)</th>" in page and "is not a proof that the variants are equal" in page
    # batch_norm+dropout against batch_norm: p=0.012 alone, 0.074 once the 6 pairs are corrected for.
    assert re.search(r"<td>0\.0124</td><td>0\.0742</td><td class=\"text\">no</td>", page)


def test_terminal_summary_shows_the_adjusted_p_and_the_reference(tutorial_study):
    from rich.console import Console

    from trainlab.studies.terminal import print_study_summary
    from trainlab.studies.stats import write_tables

    write_tables(tutorial_study)
    console = Console(record=True, width=200)
    print_study_summary(tutorial_study, console)
    text = console.export_text()
    assert "p (Holm)" in text and "0.0124" in text and "0.0742" in text
    assert ("reference: batch_norm, the best mean, chosen after the fact; p-values Holm-adjusted for 6 comparisons "
            "(every pair of variants)") in text
    assert "batch_norm+dropout: 0.942, not distinguishable from batch_norm at 4 and 5 seeds (p=0.074" in text
