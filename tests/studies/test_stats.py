"""The statistics of a study: summaries, Welch and bootstrap comparisons, the ranking, the tables."""

import math
import warnings

import numpy as np
import pytest
from scipy import stats

from trainlab.errors import ArgumentError, TrainlabError
from trainlab.studies.stats import (
    COMPARISON_COLUMNS,
    SUMMARY_COLUMNS,
    best_variant,
    compare,
    holm,
    ranking,
    ranking_text,
    read_study,
    read_table,
    summarize,
    write_tables,
)

A = [0.912, 0.905, 0.921, 0.899, 0.917]
B = [0.871, 0.902, 0.845, 0.880, 0.866, 0.851]


@pytest.fixture(autouse=True)
def warnings_are_errors():
    """No RuntimeWarning (division by zero, empty mean) may slip out of an edge case."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# --- summarize ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("confidence", [0.95, 0.9])
def test_summary_matches_numpy_and_scipy(confidence):
    (row,) = summarize({"adam": A}, confidence)
    a = np.array(A)
    sem = a.std(ddof=1) / math.sqrt(len(a))
    low, high = stats.t.interval(confidence, len(a) - 1, loc=a.mean(), scale=sem)
    assert row["variant"] == "adam" and row["n"] == 5 and row["n_failed"] == 0
    assert row["mean"] == pytest.approx(a.mean()) and row["std"] == pytest.approx(a.std(ddof=1))
    assert row["sem"] == pytest.approx(sem) and row["median"] == pytest.approx(np.median(a))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high))
    assert (row["min"], row["max"]) == (min(A), max(A))
    assert list(row) == SUMMARY_COLUMNS


def test_summary_keeps_variant_order():
    assert [r["variant"] for r in summarize({"sgd": B, "adam": A, "rms": A})] == ["sgd", "adam", "rms"]


def test_one_seed_has_no_spread_rather_than_zero():
    (row,) = summarize({"adam": [0.9]})
    assert row["n"] == 1 and row["mean"] == row["min"] == row["max"] == row["median"] == 0.9
    assert all(math.isnan(row[k]) for k in ("std", "sem", "ci_low", "ci_high"))


def test_failed_runs_are_counted_and_left_out():
    (row,) = summarize({"sgd": [0.8, math.nan, 0.9, math.inf, None]})
    assert row["n"] == 2 and row["n_failed"] == 3
    assert row["mean"] == pytest.approx(0.85) and row["std"] == pytest.approx(np.std([0.8, 0.9], ddof=1))


def test_all_failed_is_all_nan():
    (row,) = summarize({"sgd": [math.nan, math.nan]})
    assert row["n"] == 0 and row["n_failed"] == 2
    assert all(math.isnan(row[k]) for k in ("mean", "std", "sem", "ci_low", "ci_high", "min", "max", "median"))


def test_identical_values_have_exactly_zero_spread():
    (row,) = summarize({"adam": [0.9533] * 3})
    assert row["std"] == 0.0 and row["ci_low"] == row["ci_high"] == row["mean"] == pytest.approx(0.9533)


@pytest.mark.parametrize("confidence", [0, 1, 1.5, -0.1])
def test_confidence_outside_0_1_is_refused(confidence):
    with pytest.raises(ArgumentError, match=f"confidence: must be between 0 and 1 .*got {confidence}"):
        summarize({"adam": A}, confidence)


# --- compare: welch ----------------------------------------------------------------------------------------------

def test_welch_matches_scipy():
    (row,) = compare({"adam": A, "sgd": B}, "max")
    reference = stats.ttest_ind(B, A, equal_var=False)
    low, high = reference.confidence_interval(0.95)
    assert (row["variant"], row["reference"], row["test"]) == ("sgd", "adam", "welch")
    assert row["statistic"] == pytest.approx(reference.statistic)
    assert row["df"] == pytest.approx(reference.df)
    assert row["p_value"] == pytest.approx(reference.pvalue)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high))
    assert row["difference"] == pytest.approx(np.mean(B) - np.mean(A))
    assert (row["n"], row["n_reference"]) == (6, 5)
    assert row["distinguishable"] is True and row["note"] == ""
    assert list(row) == COMPARISON_COLUMNS


def test_welch_interval_by_hand_at_another_confidence():
    (row,) = compare({"adam": A, "sgd": B}, "max", confidence=0.8)
    va, vb = np.var(B, ddof=1) / len(B), np.var(A, ddof=1) / len(A)
    df = (va + vb) ** 2 / (va ** 2 / (len(B) - 1) + vb ** 2 / (len(A) - 1))
    half = stats.t.ppf(0.9, df) * math.sqrt(va + vb)
    d = np.mean(B) - np.mean(A)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((d - half, d + half))


def test_close_variants_are_not_distinguishable():
    close = [x + 0.001 for x in A[::-1]]
    (row,) = compare({"adam": A, "dropout": close}, "max")
    assert row["reference"] == "dropout"
    assert row["p_value"] > 0.5 and row["distinguishable"] is False
    assert row["ci_low"] < 0 < row["ci_high"]


def test_reference_is_the_best_mean_in_the_mode():
    values = {"sgd": B, "adam": A, "rms": [0.95, 0.94]}
    assert [r["variant"] for r in compare(values, "max")] == ["sgd", "adam"]
    assert compare(values, "max")[0]["reference"] == "rms"
    assert {r["reference"] for r in compare(values, "min")} == {"sgd"}
    assert best_variant({"x": [1.0], "y": [1.0]}, "max") == "x"
    assert best_variant({"x": [math.nan], "y": [math.nan]}, "min") == "x"


def test_explicit_reference():
    rows = compare({"sgd": B, "adam": A}, "max", reference="sgd")
    assert [(r["variant"], r["reference"]) for r in rows] == [("adam", "sgd")]
    assert rows[0]["difference"] == pytest.approx(np.mean(A) - np.mean(B))


def test_unknown_reference_mode_and_test_are_refused():
    with pytest.raises(ArgumentError, match=r"reference: must be one of the variants \(adam, sgd\), got 'nadam'"):
        compare({"adam": A, "sgd": B}, "max", reference="nadam")
    with pytest.raises(ArgumentError, match="mode: must be max .* or min .*, got 'maximize'"):
        compare({"adam": A}, "maximize")
    with pytest.raises(ArgumentError, match="test: must be one of welch, bootstrap, got 'mannwhitney'"):
        compare({"adam": A}, "max", test="mannwhitney")
    with pytest.raises(ArgumentError, match="n_boot: must be >= 1, got 0"):
        compare({"adam": A, "sgd": B}, "max", test="bootstrap", n_boot=0)


@pytest.mark.parametrize("test", ["welch", "bootstrap"])
@pytest.mark.parametrize("other", [[0.8], [], [math.nan, math.nan, 0.7]])
def test_fewer_than_two_values_cannot_be_tested(test, other):
    (row,) = compare({"adam": A, "sgd": other}, "max", test=test)
    assert math.isnan(row["p_value"]) and math.isnan(row["ci_low"]) and row["distinguishable"] is False
    assert "too few runs to test" in row["note"] and "2 seeds on each side" in row["note"]


def test_one_seed_each_cannot_be_tested():
    (row,) = compare({"adam": [0.9], "sgd": [0.8]}, "max")
    assert row["difference"] == pytest.approx(-0.1) and math.isnan(row["p_value"]) and not row["distinguishable"]


def test_failed_runs_are_left_out_and_noted():
    (row,) = compare({"adam": [*A, math.nan], "sgd": [*B, math.nan, math.nan]}, "max")
    assert row["p_value"] == pytest.approx(stats.ttest_ind(B, A, equal_var=False).pvalue)
    assert "2 failed runs of sgd left out" in row["note"] and "1 failed run of adam left out" in row["note"]


@pytest.mark.parametrize("test", ["welch", "bootstrap"])
def test_no_spread_on_either_side_cannot_be_tested(test):
    # Every seed gave one value per variant (accuracies on a small validation set move in steps of 1/n):
    # the seeds show no spread, so no test can be made; the old code declared p = 0, "distinguishable".
    (row,) = compare({"adam": [0.96] * 4, "sgd": [0.9533] * 3}, "max", test=test)
    assert row["distinguishable"] is False
    assert row["difference"] == pytest.approx(-0.0067)
    assert all(math.isnan(row[k]) for k in ("p_value", "p_adjusted", "ci_low", "ci_high", "statistic"))
    assert row["note"] == ("no test: every seed gave the same value within each variant (0.9533 against 0.96), "
                           "so the seeds show no spread to weigh the difference against")
    assert row["n_comparisons"] == 0
    values = {"adam": [0.96] * 4, "sgd": [0.9533] * 3}
    assert ranking_text(summarize(values), [row], "max").splitlines()[1] == (
        "sgd: 0.953 (n=3), cannot be tested against adam (n=4): every seed gave the same value within each "
        "variant, so there is no spread to weigh the difference (-0.0067) against.")


@pytest.mark.parametrize("test", ["welch", "bootstrap"])
def test_no_spread_and_same_values_cannot_be_tested_either(test):
    (row,) = compare({"adam": [0.9533] * 3, "sgd": [0.9533] * 5}, "max", test=test)
    assert math.isnan(row["p_value"]) and row["distinguishable"] is False and row["difference"] == 0.0
    assert "no test: every seed gave the same value within each variant (0.9533 on both sides)" in row["note"]


def test_untestable_pairs_stay_out_of_the_family():
    values = {"a": [0.96] * 3, "b": [0.9533] * 3, "c": [0.90, 0.91, 0.92]}
    rows = {r["variant"]: r for r in compare(values, "max")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's "nearly identical data" warning for [0.96] * 3
        p_ac = stats.ttest_ind(values["c"], values["a"], equal_var=False).pvalue
        p_bc = stats.ttest_ind(values["c"], values["b"], equal_var=False).pvalue
    assert rows["c"]["n_comparisons"] == rows["b"]["n_comparisons"] == 2  # a-c and b-c; a-b has no spread
    assert rows["c"]["p_adjusted"] == pytest.approx(holm([p_ac, p_bc])[0])


def test_no_spread_on_one_side_only_is_an_ordinary_welch_test():
    (row,) = compare({"adam": [0.95] * 3, "sgd": B}, "max")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's "nearly identical data" warning for [0.95] * 3
        reference = stats.ttest_ind(B, [0.95] * 3, equal_var=False)
    assert row["p_value"] == pytest.approx(reference.pvalue) and row["df"] == pytest.approx(len(B) - 1)


def test_welch_of_several_variants_matches_one_scipy_call_each():
    values = {"adam": A, "sgd": B, "rms": [0.90, 0.93, 0.91, 0.92, 0.94], "ada": [0.88, 0.91, 0.89, 0.9, 0.87]}
    for row in compare(values, "max", confidence=0.9):
        reference = stats.ttest_ind(values[row["variant"]], values[row["reference"]], equal_var=False)
        low, high = reference.confidence_interval(0.9)
        assert (row["statistic"], row["df"], row["p_value"]) == pytest.approx(
            (reference.statistic, reference.df, reference.pvalue), rel=1e-12)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), rel=1e-12)


# --- compare: the correction for several comparisons -------------------------------------------------------------

def test_holm_by_hand():
    # m = 4: sorted 0.01, 0.02, 0.03, 0.04 -> 4 x 0.01, 3 x 0.02, 2 x 0.03 (raised to 0.06), 1 x 0.04 (to 0.06).
    assert holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, 0.9]) == [1.0, 1.0] and holm([0.2]) == [0.2] and holm([]) == []


def test_the_best_picked_after_the_fact_is_corrected_over_every_pair():
    values = {"adam": A, "sgd": B, "rms": [0.90, 0.93, 0.91, 0.92, 0.94]}
    rows = compare(values, "max")
    pairs = [("adam", "rms"), ("sgd", "rms"), ("adam", "sgd")]  # rms is best; adam-sgd could have been shown
    raw = [stats.ttest_ind(values[a], values[b], equal_var=False).pvalue for a, b in pairs]
    assert [(r["variant"], r["reference"], r["reference_chosen"]) for r in rows] == [
        ("adam", "rms", "best mean"), ("sgd", "rms", "best mean")]
    assert [r["p_adjusted"] for r in rows] == pytest.approx(holm(raw)[:2])
    assert [r["p_value"] for r in rows] == pytest.approx(raw[:2])
    assert {r["n_comparisons"] for r in rows} == {3}
    assert [r["distinguishable"] for r in rows] == [p < 0.05 for p in holm(raw)[:2]]


def test_a_reference_given_in_advance_is_corrected_over_its_own_comparisons():
    values = {"adam": A, "sgd": B, "rms": [0.90, 0.93, 0.91, 0.92, 0.94]}
    rows = compare(values, "max", reference="sgd")
    raw = [stats.ttest_ind(values[v], B, equal_var=False).pvalue for v in ("adam", "rms")]
    assert [(r["variant"], r["reference_chosen"], r["n_comparisons"]) for r in rows] == [
        ("adam", "given", 2), ("rms", "given", 2)]
    assert [r["p_adjusted"] for r in rows] == pytest.approx(holm(raw))


def test_a_difference_that_passes_alone_but_not_corrected_says_both():
    values = {"a": [0.950, 0.955, 0.960, 0.952], "b": [0.940, 0.945, 0.950, 0.941], "c": [0.946, 0.951, 0.949, 0.944],
              "d": [0.945, 0.949, 0.953, 0.947]}
    row = next(r for r in compare(values, "max") if r["variant"] == "b")
    assert row["p_value"] < 0.05 <= row["p_adjusted"] and not row["distinguishable"]
    line = next(x for x in ranking_text(summarize(values), compare(values, "max"), "max").splitlines()
                if x.startswith("b:"))
    assert f"Holm-adjusted for 6 comparisons; p={row['p_value']:.2g} alone): the difference is " in line
    assert line.endswith(f"95% CI [{row['ci_low']:.3g}, {row['ci_high']:.3g}].") and row["ci_high"] < 0


@pytest.mark.parametrize(("k", "n", "simulations"), [(4, 5, 500), (6, 3, 400), (8, 5, 400)])
def test_identical_variants_are_rarely_distinguishable(k, n, simulations):
    """The family-wise false-positive rate: every variant drawn from one distribution, any 'distinguishable'
    is a false alarm; it must stay at 5% within sampling error. Deciding on the raw p-values (the old rule)
    raises an alarm in 16% (4 x 5) to 40% (8 x 5) of such studies; correcting only the k - 1 comparisons with the
    best, picked after the fact, in 6% to 8%."""
    rng = np.random.default_rng(k * 100 + n)
    alarms = raw_alarms = 0
    for _ in range(simulations):
        draws = rng.normal(0.9, 0.01, size=(k, n))
        rows = compare({f"v{j}": draws[j] for j in range(k)}, "max")
        alarms += any(r["distinguishable"] for r in rows)
        raw_alarms += any(r["p_value"] < 0.05 for r in rows)
    assert stats.binomtest(alarms, simulations, 0.05, alternative="greater").pvalue > 0.01, alarms / simulations
    assert raw_alarms / simulations > 0.1  # the uncorrected rule fails this very test


# --- compare: bootstrap ------------------------------------------------------------------------------------------

def bootstrap_by_hand(a, b, n_boot, seed, confidence=0.95):
    rng = np.random.default_rng(seed)
    a, b = np.asarray(a), np.asarray(b)
    diffs = np.empty(n_boot)
    ia = rng.integers(0, len(a), size=(n_boot, len(a)))
    ib = rng.integers(0, len(b), size=(n_boot, len(b)))
    for k in range(n_boot):
        diffs[k] = a[ia[k]].mean() - b[ib[k]].mean()
    alpha = 1 - confidence
    low, high = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    below, above = (diffs <= 0).sum(), (diffs >= 0).sum()
    return low, high, min(1.0, 2 * (min(below, above) + 1) / (n_boot + 1))


def test_bootstrap_is_scipys():
    (row,) = compare({"adam": A, "sgd": B}, "max", test="bootstrap", n_boot=2000, seed=3, confidence=0.9)
    reference = stats.bootstrap((np.array(B), np.array(A)), lambda b, a, axis: b.mean(axis) - a.mean(axis),
                                n_resamples=2000, confidence_level=0.9, method="percentile", paired=False,
                                rng=np.random.default_rng(3))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(tuple(reference.confidence_interval), rel=1e-12)


def test_bootstrap_matches_a_numpy_reference():
    (row,) = compare({"adam": A, "sgd": B}, "max", test="bootstrap", n_boot=2000, seed=3)
    low, high, p = bootstrap_by_hand(B, A, 2000, 3)
    assert (row["ci_low"], row["ci_high"], row["p_value"]) == pytest.approx((low, high, p))
    assert row["test"] == "bootstrap" and math.isnan(row["statistic"]) and row["note"] == ""
    assert row["distinguishable"] is bool(p < 0.05)


def test_bootstrap_is_reproducible_and_seeded():
    values = {"adam": A, "sgd": B, "rms": [0.88, 0.89, 0.9]}
    first = compare(values, "max", test="bootstrap", seed=1)
    assert first == compare(values, "max", test="bootstrap", seed=1)
    other = compare(values, "max", test="bootstrap", seed=2)[0]
    assert (first[0]["ci_low"], first[0]["ci_high"], first[0]["p_value"]) != \
        (other["ci_low"], other["ci_high"], other["p_value"])
    # Each comparison reseeds: dropping a variant does not change another's result (its correction aside:
    # the family of comparisons shrinks with the variants).
    family = ("p_adjusted", "n_comparisons", "distinguishable")
    alone = compare({"adam": A, "sgd": B}, "max", test="bootstrap", seed=1)[0]
    assert {k: v for k, v in alone.items() if k not in family} == {k: v for k, v in first[0].items() if k not in family}


def test_bootstrap_of_identical_distributions_has_a_large_p():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.9, 0.02, 20), rng.normal(0.9, 0.02, 20)
    (row,) = compare({"a": a, "b": b}, "max", test="bootstrap")
    assert row["p_value"] > 0.2 and not row["distinguishable"]


def test_bootstrap_of_distant_distributions_has_p_near_zero():
    rng = np.random.default_rng(0)
    (row,) = compare({"a": rng.normal(0.9, 0.01, 8), "b": rng.normal(0.7, 0.01, 8)}, "max", test="bootstrap")
    assert row["p_value"] == pytest.approx(2 / 10001) and row["distinguishable"]
    assert row["ci_low"] == pytest.approx(-0.2, abs=0.03) and row["ci_high"] < 0


def test_bootstrap_with_few_seeds_says_so():
    (row,) = compare({"adam": A[:3], "sgd": B[:3]}, "max", test="bootstrap")
    assert "fewer than 5 seeds" in row["note"]


# --- ranking -----------------------------------------------------------------------------------------------------

def test_ranking_orders_best_first_in_either_mode():
    values = {"sgd": B, "adam": A, "failed": [math.nan], "rms": [0.93, 0.94]}
    rows = ranking(summarize(values), compare(values, "max"), "max")
    assert [(r["rank"], r["variant"]) for r in rows] == [(1, "rms"), (2, "adam"), (3, "sgd"), (4, "failed")]
    assert rows[0]["reference"] == "rms" and math.isnan(rows[0]["p_value"])
    rows = ranking(summarize(values), compare(values, "min"), "min")
    assert [r["variant"] for r in rows] == ["sgd", "adam", "rms", "failed"]


def test_ranking_sentences_say_best_distinguishable_and_noise():
    values = {"adam": A, "sgd": B, "dropout": [x - 0.002 for x in A[::-1]]}
    text = ranking_text(summarize(values), compare(values, "max"), "max", metric="val_accuracy")
    best, dropout, sgd = text.splitlines()
    assert best == f"adam is best on val_accuracy (0.911 ± {np.std(A, ddof=1):.3g} sd, n=5)."
    p = {pair: stats.ttest_ind(values[pair[0]], values[pair[1]], equal_var=False).pvalue
         for pair in [("sgd", "adam"), ("dropout", "adam"), ("sgd", "dropout")]}
    p_sgd, p_dropout, _ = holm(list(p.values()))  # every pair: the reference was picked after the fact
    assert 0.001 < p_sgd < 0.01 and p_sgd == pytest.approx(3 * p[("sgd", "adam")])
    assert sgd == f"sgd: 0.869, 0.0416 lower than adam, distinguishable (p={p_sgd:.2g}, Holm-adjusted for 3 comparisons)."
    low, high = stats.ttest_ind(values["dropout"], A, equal_var=False).confidence_interval(0.95)
    assert dropout == (f"dropout: 0.909, not distinguishable from adam at 5 seeds (p={p_dropout:.2g}, Holm-adjusted "
                       f"for 3 comparisons): the difference is -0.002, 95% CI [{low:.3g}, {high:.3g}].")


def test_ranking_sentences_for_edge_cases():
    values = {"adam": [0.9, 0.92, math.nan], "one": [0.8], "gone": [math.nan, math.nan], "more": [0.1, 0.2, 0.15, 0.12]}
    lines = ranking_text(summarize(values), compare(values, "max"), "max").splitlines()
    assert lines[0] == "adam is best (0.91 ± 0.0141 sd, n=2) (1 of 3 runs failed and is left out)."
    assert lines[1] == ("one: 0.8 (n=1), cannot be told apart from adam (n=2): "
                        "at least 2 successful seeds on each side are needed.")
    assert lines[2].startswith("more: 0.143, ") and " lower than adam, distinguishable (p<0.001)." in lines[2]
    assert lines[3] == "gone: all 2 runs failed, no value to compare."


def test_ranking_of_a_single_variant_and_a_single_seed():
    assert ranking_text(summarize({"adam": [0.9]}), [], "max") == "adam is best (0.9, n=1, the only variant)."
    assert ranking_text(summarize({"adam": A}), [], "min", "loss").startswith("adam is best on loss (")


def test_ranking_with_unequal_seeds_and_a_chosen_reference():
    values = {"adam": A, "sgd": B}
    lines = ranking_text(summarize(values), compare(values, "max", reference="sgd"), "max").splitlines()
    assert lines[0].startswith("adam: 0.911, 0.0416 higher than sgd, distinguishable (p=")
    assert lines[1].startswith("sgd is the reference (0.869")
    close = {"adam": A, "dropout": [x - 0.001 for x in B[:4]] + [0.93, 0.92]}
    assert "not distinguishable from adam at 6 and 5 seeds (p=" in ranking_text(summarize(close), compare(close, "max"),
                                                                            "max")


@pytest.mark.parametrize("p, text", [(0.0499, "p=0.0499"), (0.0501, "p=0.05"), (0.61, "p=0.61"),
                                     (0.002, "p=0.002"), (0.0004, "p<0.001"), (0.0, "p=0")])
def test_p_values_never_round_across_the_threshold(p, text):
    from trainlab.studies.stats import _p_text

    assert _p_text(p, 0.05) == text


# --- the study directory -----------------------------------------------------------------------------------------

def test_write_tables_from_a_study_directory(make_study):
    values = {"none": A, "1e-3": B, "broken": [0.9, math.nan]}
    study_dir = make_study(values, epochs=2, weights=False)
    summary_path, comparisons_path = write_tables(study_dir)
    assert (summary_path.name, comparisons_path.name) == ("summary.csv", "comparisons.csv")
    summary, comparisons = read_table(summary_path), read_table(comparisons_path)
    expected = summarize({"none": A, "1e-3": B, "broken": [0.9, math.nan]})
    assert [r["variant"] for r in summary] == ["none", "1e-3", "broken"]  # "1e-3" stays a label, not a number
    for got, want in zip(summary, expected):
        assert got.keys() == want.keys()
        for key in SUMMARY_COLUMNS[1:]:
            assert got[key] == pytest.approx(want[key], nan_ok=True)
    assert [(c["variant"], c["reference"]) for c in comparisons] == [("1e-3", "none"), ("broken", "none")]
    assert comparisons[0]["distinguishable"] is True and comparisons[1]["distinguishable"] is False
    assert comparisons[0]["p_value"] == pytest.approx(stats.ttest_ind(B, A, equal_var=False).pvalue)
    assert "too few runs" in comparisons[1]["note"]
    assert comparisons_path.read_text().splitlines()[0] == ",".join(COMPARISON_COLUMNS)


def test_write_tables_uses_the_study_mode_and_options(make_study):
    study_dir = make_study({"a": [0.3, 0.31, 0.29], "b": [0.2, 0.22, 0.21]}, metric="val_loss", mode="min",
                           epochs=1, weights=False)
    _, comparisons_path = write_tables(study_dir, test="bootstrap", n_boot=500, confidence=0.9)
    (row,) = read_table(comparisons_path)
    assert (row["variant"], row["reference"], row["test"], row["confidence"]) == ("a", "b", "bootstrap", 0.9)


def test_read_study(make_study):
    study = read_study(make_study({"x": [0.5, 0.6], "y": [0.7]}, epochs=1, weights=False))
    assert (study.name, study.metric, study.mode, study.seeds) == ("synthetic-study", "val_accuracy", "max", [0, 1])
    assert study.values() == {"x": [0.5, 0.6], "y": [0.7]}
    assert study.executors == {"x": "fused", "y": "sequential"} and study.wall_time_s == 12.5
    assert study.runs("x") == [(0, study.dir / "runs" / "x" / "seed0"), (1, study.dir / "runs" / "x" / "seed1")]


def test_read_study_errors(tmp_path, make_study):
    with pytest.raises(TrainlabError, match="study.json: is missing: not a study directory"):
        read_study(tmp_path)
    study_dir = make_study({"x": [0.5]}, epochs=1, weights=False)
    (study_dir / "study.json").write_text('{"mode": "best"}')
    with pytest.raises(TrainlabError, match="mode: must be max or min, got 'best'"):
        read_study(study_dir)
    (study_dir / "study.json").write_text("{not json")
    with pytest.raises(TrainlabError, match="study.json: cannot be read as JSON"):
        read_study(study_dir)
