"""The statistics of a study: per-variant summaries over seeds, comparisons, a ranking in words.

A study trains each variant with several seeds and records one number per run (the study
metric at the run's best epoch). Whether two variants differ is then a question about two
small samples, answered here with Welch's t-test (unequal variances) or a percentile
bootstrap. Pure NumPy/SciPy on plain numbers; :func:`write_tables` reads and writes the
study directory's CSV files::

    from trainlab.studies.stats import compare, ranking_text, summarize
    values = {"adam": [0.91, 0.92, 0.90], "sgd": [0.86, 0.88, 0.87]}
    print(ranking_text(summarize(values), compare(values, "max"), "max"))

A run that failed (NaN or infinite value) is counted in ``n_failed`` and left out of every
statistic: a diverged run says something about the variant, but not its mean.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from trainlab.errors import ArgumentError
# The study directory's files, reached here too: readers of a study import them from this module.
from trainlab.rundir.study import (
    COMPARISONS,
    MODES,
    RESULTS,
    STUDY,
    SUMMARY,
    Study,
    read_study,
    read_table,
    to_float,
    write_csv,
)

SUMMARY_COLUMNS = ["variant", "n", "n_failed", "mean", "std", "sem", "ci_low", "ci_high", "min", "max", "median",
                   "confidence"]
COMPARISON_COLUMNS = ["variant", "reference", "reference_chosen", "test", "n", "n_reference", "mean", "mean_reference",
                      "difference", "ci_low", "ci_high", "statistic", "df", "p_value", "p_adjusted", "n_comparisons",
                      "distinguishable", "confidence", "note"]
TESTS = ("welch", "bootstrap")
NAN = math.nan


# --- summaries ---------------------------------------------------------------------------------------------------

def summarize(values: Mapping[str, Sequence[float]], confidence: float = 0.95) -> list[dict[str, Any]]:
    """Per variant: how many runs, their mean, spread and a Student-t confidence interval of the mean.

    Args:
        values: per variant label, one value per seed; NaN or infinite values are failed runs.
        confidence: the confidence level of the interval, in (0, 1).

    Returns:
        One dict per variant, in the order of ``values``, with the keys of ``SUMMARY_COLUMNS``:
        ``n`` (finite values), ``n_failed``, ``mean``, ``std`` (ddof=1), ``sem`` (std / sqrt(n)),
        ``ci_low``/``ci_high`` (mean -/+ t quantile x sem, n - 1 degrees of freedom), ``min``,
        ``max``, ``median``, ``confidence``. With n = 1, std, sem and the interval are NaN (one
        seed says nothing about the spread); with n = 0 every statistic is NaN.

    Raises:
        ArgumentError: ``confidence`` is not strictly between 0 and 1.

    Example:
        >>> summarize({"adam": [0.90, 0.92, 0.91]})[0]["mean"]  # doctest: +ELLIPSIS
        0.91...
    """
    _check_confidence(confidence)
    return [_summary_row(label, sample, confidence) for label, sample in values.items()]


def _summary_row(label: str, sample: Sequence[float], confidence: float) -> dict[str, Any]:
    finite, n_failed = _finite(sample)
    n = len(finite)
    row: dict[str, Any] = {column: NAN for column in SUMMARY_COLUMNS}
    row.update(variant=label, n=n, n_failed=n_failed, confidence=confidence)
    if n == 0:
        return row
    mean = _mean(finite)
    row.update(mean=mean, min=float(finite.min()), max=float(finite.max()), median=float(np.median(finite)))
    if n >= 2:
        std = _std(finite)
        sem = std / math.sqrt(n)
        half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * sem
        row.update(std=std, sem=sem, ci_low=mean - half, ci_high=mean + half)
    return row


# --- comparisons -------------------------------------------------------------------------------------------------

def compare(
    values: Mapping[str, Sequence[float]],
    mode: str,
    reference: str | None = None,
    confidence: float = 0.95,
    test: str = "welch",
    n_boot: int = 10000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Each variant against a reference: the difference of means, its interval, a p-value and its correction.

    ``welch``: Welch's two-sided t-test and its interval of the difference
    (``scipy.stats.ttest_ind(equal_var=False)``). ``bootstrap``: ``scipy.stats.bootstrap`` of the
    difference of means, ``n_boot`` independent resamples of each side, its percentile interval,
    and the two-sided p-value ``min(1, 2 * min(#(d* <= 0) + 1, #(d* >= 0) + 1) / (n_boot + 1))``
    from the resampled differences, which agrees with the interval and is never exactly 0.
    Each comparison reseeds (``numpy.random.default_rng(seed)``).

    Several comparisons in one study would find a "difference" by chance far more often than
    once in twenty, so the p-values are adjusted with Holm's method across a family, and
    ``distinguishable`` is decided on the adjusted value. When the reference is the best mean,
    picked after the fact, the family is every pair of variants: the best against the worst is
    the largest of all pairwise differences, so correcting only the k - 1 comparisons shown
    still finds a difference among identical variants more often than ``1 - confidence``. A
    reference given in advance makes a family of its k - 1 comparisons.

    When neither side varies (every seed gave one value, as a deterministic run or a small
    validation set can), the seeds give no spread to weigh a difference against: no test is
    made, the p-value and interval are NaN, and a ``note`` says so.

    Args:
        values: per variant label, one value per seed; NaN or infinite values (failed runs) are left out.
        mode: ``"max"`` if higher is better (accuracy), ``"min"`` if lower is (loss).
        reference: the variant the others are compared with, chosen in advance; by default the
            best by mean in ``mode`` (the first such, on a tie; the first variant when none has a
            finite value).
        confidence: the level of the intervals; a comparison is distinguishable when its adjusted
            p-value is below 1 - confidence.
        test: ``"welch"`` or ``"bootstrap"``.
        n_boot: bootstrap resamples.
        seed: the bootstrap's random seed.

    Returns:
        One dict per variant other than the reference, in the order of ``values``, with the
        keys of ``COMPARISON_COLUMNS``: ``reference_chosen`` (``best mean`` or ``given``),
        ``difference`` (variant mean minus reference mean), ``ci_low``/``ci_high`` its interval
        (this comparison alone), ``statistic`` and ``df`` (NaN for the bootstrap), ``p_value``
        (this comparison alone), ``p_adjusted`` (Holm, across ``n_comparisons`` tests),
        ``distinguishable`` (bool) and ``note`` (empty, or why the answer is special). With fewer
        than 2 finite values on either side, or no spread on either, the p-values and interval
        are NaN and ``distinguishable`` is False.

    Raises:
        ArgumentError: an unknown ``mode``, ``test`` or ``reference``, a ``confidence`` outside
            (0, 1), or ``n_boot`` < 1.

    Example:
        >>> rows = compare({"adam": [0.91, 0.92, 0.90], "sgd": [0.86, 0.88, 0.87]}, "max")
        >>> rows[0]["variant"], rows[0]["reference"], rows[0]["distinguishable"]
        ('sgd', 'adam', True)
    """
    _check_mode(mode)
    _check_confidence(confidence)
    if test not in TESTS:
        raise ArgumentError("test", f"must be one of {', '.join(TESTS)}", test)
    if test == "bootstrap" and n_boot < 1:
        raise ArgumentError("n_boot", "must be >= 1", n_boot)
    samples = {label: _finite(sample) for label, sample in values.items()}
    chosen = "given"
    if reference is None:
        reference, chosen = best_variant({label: s for label, (s, _) in samples.items()}, mode), "best mean"
    elif reference not in samples:
        raise ArgumentError("reference", f"must be one of the variants ({', '.join(samples)})", reference)
    shown = [(label, reference) for label in samples if label != reference]
    family = shown
    if chosen == "best mean":  # any pair could have been the one shown: every pair belongs to the family
        labels = list(samples)
        family = shown + [(a, b) for i, a in enumerate(labels) for b in labels[i + 1:] if reference not in (a, b)]
    testable = [pair for pair in family if _testable(samples[pair[0]][0], samples[pair[1]][0])]
    tested = dict(zip(testable, _tests([(samples[a][0], samples[b][0]) for a, b in testable], confidence, test,
                                       n_boot, seed)))
    adjusted = dict(zip(tested, holm([result["p_value"] for result in tested.values()])))
    rows = []
    for label, _ in shown:
        (sample, failed), (ref, ref_failed) = samples[label], samples[reference]
        row = _pair_row(sample, ref)
        row.update(tested.get((label, reference), {}))
        row.update(variant=label, reference=reference, reference_chosen=chosen, test=test, confidence=confidence,
                   p_adjusted=adjusted.get((label, reference), NAN), n_comparisons=len(tested))
        row["distinguishable"] = bool(row["p_adjusted"] < 1 - confidence)
        notes = [row["note"], _failed_note(label, failed), _failed_note(reference, ref_failed)]
        row["note"] = "; ".join(note for note in notes if note)
        rows.append({column: row[column] for column in COMPARISON_COLUMNS})
    return rows


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: the family-wise error stays below alpha when each adjusted p is read at alpha.

    The smallest of m p-values is multiplied by m, the next by m - 1, and so on; each adjusted
    value is at least the one before it (in the order of the raw values) and at most 1.

    Args:
        p_values: the raw p-values of one family of tests (all finite).

    Returns:
        The adjusted p-values, in the order given.

    Example:
        >>> holm([0.01, 0.04, 0.03])
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if not m:
        return []
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return [float(x) for x in adjusted]


def best_variant(values: Mapping[str, Sequence[float]], mode: str) -> str:
    """The variant with the best mean of its finite values (the first on a tie, or when none has any).

    Raises:
        ArgumentError: an unknown ``mode``, or no variants.
    """
    _check_mode(mode)
    if not values:
        raise ArgumentError("values", "must name at least one variant", {})
    means = {label: _mean_or_none(np.asarray(v, dtype=float)) for label, v in values.items()}
    scored = [(label, m) for label, m in means.items() if m is not None]
    if not scored:
        return next(iter(values))
    pick = max if mode == "max" else min
    return pick(scored, key=lambda pair: pair[1])[0]


def _testable(a: np.ndarray, b: np.ndarray) -> bool:
    """Two samples can be tested: 2 values or more on each side, and some spread on one side at least."""
    return len(a) >= 2 and len(b) >= 2 and not (np.ptp(a) == 0 and np.ptp(b) == 0)


def _pair_row(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """A comparison's counts and means, its test's fields NaN, and a note when it cannot be tested."""
    row: dict[str, Any] = {"n": len(a), "n_reference": len(b), "mean": _mean(a), "mean_reference": _mean(b),
                           "statistic": NAN, "df": NAN, "ci_low": NAN, "ci_high": NAN, "p_value": NAN, "note": ""}
    row["difference"] = row["mean"] - row["mean_reference"]
    if len(a) < 2 or len(b) < 2:
        row["note"] = f"too few runs to test (n={len(a)} against {len(b)}; at least 2 seeds on each side are needed)"
    elif not _testable(a, b):
        row["note"] = _no_spread_note(row["mean"], row["mean_reference"])
    return row


def _tests(pairs: Sequence[tuple[np.ndarray, np.ndarray]], confidence: float, test: str, n_boot: int,
           seed: int) -> list[dict[str, Any]]:
    """Each pair's test (first minus second): p-value, interval, and for Welch the statistic and df."""
    if test == "bootstrap":
        return [_bootstrap(a, b, confidence, n_boot, seed) for a, b in pairs]
    results: list[dict[str, Any]] = [{} for _ in pairs]
    by_shape: dict[tuple[int, int], list[int]] = {}
    for k, (a, b) in enumerate(pairs):
        by_shape.setdefault((len(a), len(b)), []).append(k)
    for ks in by_shape.values():  # one scipy call per shape: its overhead, not the arithmetic, is the cost
        for k, result in zip(ks, _welch(np.stack([pairs[k][0] for k in ks]), np.stack([pairs[k][1] for k in ks]),
                                        confidence)):
            results[k] = result
    return results


def _welch(a: np.ndarray, b: np.ndarray, confidence: float) -> list[dict[str, Any]]:
    """Welch's t-test of each row of ``a`` against the same row of ``b`` (``scipy.stats.ttest_ind``)."""
    with warnings.catch_warnings():
        # One side may have no spread (every seed the same value): scipy warns of precision loss in its
        # variance, which is exactly 0 there; the test stays valid on the other side's spread.
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        result = stats.ttest_ind(a, b, axis=1, equal_var=False)
        interval = result.confidence_interval(confidence)
    return [{"statistic": float(t), "df": float(df), "p_value": float(p), "ci_low": float(low), "ci_high": float(high)}
            for t, df, p, low, high in zip(result.statistic, result.df, result.pvalue, interval.low, interval.high)]


def _bootstrap(a: np.ndarray, b: np.ndarray, confidence: float, n_boot: int, seed: int) -> dict[str, Any]:
    result = stats.bootstrap((a, b), _difference_of_means, n_resamples=n_boot, confidence_level=confidence,
                             method="percentile", vectorized=True, paired=False, rng=np.random.default_rng(seed))
    diffs = result.bootstrap_distribution
    tail = min(np.count_nonzero(diffs <= 0), np.count_nonzero(diffs >= 0)) + 1
    note = ""
    if min(len(a), len(b)) < 5:
        note = "bootstrap with fewer than 5 seeds on a side understates the spread; welch is safer"
    return {"p_value": float(min(1.0, 2 * tail / (n_boot + 1))), "ci_low": float(result.confidence_interval.low),
            "ci_high": float(result.confidence_interval.high), "note": note}


def _difference_of_means(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return a.mean(axis=axis) - b.mean(axis=axis)


def _no_spread_note(value: float, reference: float) -> str:
    values = f"{value:.6g} on both sides" if value == reference else f"{value:.6g} against {reference:.6g}"
    return (f"no test: every seed gave the same value within each variant ({values}), so the seeds show no "
            "spread to weigh the difference against")


def _failed_note(label: str, failed: int) -> str:
    return f"{failed} failed run{'s' if failed != 1 else ''} of {label} left out" if failed else ""


# --- ranking -----------------------------------------------------------------------------------------------------

def ranking(summary_rows: Sequence[Mapping[str, Any]], comparisons: Sequence[Mapping[str, Any]],
            mode: str, metric: str | None = None) -> list[dict[str, Any]]:
    """The variants best first, each with its summary, its comparison and a sentence saying what it means.

    Args:
        summary_rows: :func:`summarize`'s rows.
        comparisons: :func:`compare`'s rows for the same values (empty for a single variant).
        mode: ``"max"`` or ``"min"``, as given to :func:`compare`.
        metric: the metric's name, said in the first sentence when given.

    Returns:
        One dict per variant, best mean first (variants without a finite value last, in their
        original order): ``rank`` (1-based), the summary keys, ``reference``, ``difference``,
        ``p_value``, ``distinguishable`` and ``note`` (NaN/False/empty for the reference
        itself; ``p_adjusted`` beside ``p_value``), and ``sentence``.

    Raises:
        ArgumentError: an unknown ``mode``.

    Example:
        >>> values = {"adam": [0.91, 0.92, 0.90], "sgd": [0.86, 0.88, 0.87]}
        >>> [r["variant"] for r in ranking(summarize(values), compare(values, "max"), "max")]
        ['adam', 'sgd']
    """
    _check_mode(mode)
    by_variant = {c["variant"]: c for c in comparisons}
    references = {c["reference"] for c in comparisons}
    reference = references.pop() if len(references) == 1 else None
    sign = -1.0 if mode == "max" else 1.0
    order = sorted(summary_rows, key=lambda r: (not _is_finite(r["mean"]), sign * r["mean"] if r["n"] else 0.0))
    if reference is None and order:
        reference = order[0]["variant"]
    rows = []
    for rank, summary in enumerate(order, start=1):
        comparison = by_variant.get(summary["variant"], {})
        row = {"rank": rank, **summary, "reference": reference,
               "difference": comparison.get("difference", NAN), "p_value": comparison.get("p_value", NAN),
               "p_adjusted": comparison.get("p_adjusted", NAN),
               "distinguishable": bool(comparison.get("distinguishable", False)), "note": comparison.get("note", "")}
        row["sentence"] = _sentence(row, comparison, len(summary_rows), first=rank == 1, metric=metric)
        rows.append(row)
    return rows


def ranking_text(summary_rows: Sequence[Mapping[str, Any]], comparisons: Sequence[Mapping[str, Any]],
                 mode: str, metric: str | None = None) -> str:
    """:func:`ranking` in plain language, one sentence per variant, best first, one per line.

    Example output::

        adam is best on val_accuracy (0.912 ± 0.008 sd, n=5).
        sgd: 0.871, 0.041 lower than adam, distinguishable (p=0.006, Holm-adjusted for 3 comparisons).
        dropout: 0.909, not distinguishable from adam at 5 seeds (p=1, Holm-adjusted for 3 comparisons):
        the difference is -0.003, 95% CI [-0.017, 0.011].

    Args:
        summary_rows: :func:`summarize`'s rows.
        comparisons: :func:`compare`'s rows.
        mode: ``"max"`` or ``"min"``.
        metric: the metric's name, said in the first sentence when given.
    """
    return "\n".join(row["sentence"] for row in ranking(summary_rows, comparisons, mode, metric))


def reference_text(comparisons: Sequence[Mapping[str, Any]]) -> str:
    """The reference of :func:`compare`'s rows, how it was chosen and what the p-values are corrected for, in words.

    Example:
        >>> reference_text(compare({"a": [0.91, 0.92], "b": [0.86, 0.88], "c": [0.8, 0.9]}, "max"))
        'a, the best mean, chosen after the fact; p-values Holm-adjusted for 3 comparisons (every pair of variants)'
    """
    first = comparisons[0]
    chosen = first.get("reference_chosen")
    how = {"best mean": "the best mean, chosen after the fact", "given": "chosen in advance"}.get(
        str(chosen), "the best mean, chosen after the fact, with p-values not corrected (written by an older trainlab)")
    m = first.get("n_comparisons")
    if isinstance(m, int) and m > 1 and chosen:
        every = " (every pair of variants)" if chosen == "best mean" else ""
        how += f"; p-values Holm-adjusted for {m} comparisons{every}"
    return f"{first['reference']}, {how}"


def _sentence(row: Mapping[str, Any], comparison: Mapping[str, Any], n_variants: int, first: bool,
              metric: str | None) -> str:
    label, n, failed = row["variant"], row["n"], row["n_failed"]
    failures = f" ({failed} of {n + failed} runs failed and {'are' if failed > 1 else 'is'} left out)" if failed else ""
    if n == 0:
        return f"{label}: all {failed} run{'s' if failed != 1 else ''} failed, no value to compare."
    if not comparison:
        spread = f" ± {_num(row['std'])} sd" if n >= 2 else ""
        role = "is best" if first else "is the reference"
        on = f" on {metric}" if metric else ""
        alone = "" if n_variants > 1 else ", the only variant"
        return f"{label} {role}{on} ({_num(row['mean'])}{spread}, n={n}{alone}){failures}."
    reference, ref_n = comparison["reference"], comparison["n_reference"]
    head = f"{label}: {_num(row['mean'])}"
    if not _is_finite(comparison["p_value"]):
        if ref_n == 0:
            return f"{head} (n={n}), cannot be compared: every run of {reference} failed{failures}."
        if n < 2 or ref_n < 2:
            return (f"{head} (n={n}), cannot be told apart from {reference} (n={ref_n}): "
                    f"at least 2 successful seeds on each side are needed{failures}.")
        return (f"{head} (n={n}), cannot be tested against {reference} (n={ref_n}): every seed gave the same value "
                f"within each variant, so there is no spread to weigh the difference "
                f"({_num(comparison['difference'])}) against{failures}.")
    alpha = 1 - comparison["confidence"]
    adjusted = comparison.get("p_adjusted", comparison["p_value"])  # a table written before the correction: none
    p = _p_text(adjusted, alpha)
    if comparison.get("n_comparisons", 1) > 1:
        p += f", Holm-adjusted for {comparison['n_comparisons']} comparisons"
        if comparison["p_value"] < alpha <= adjusted:
            p += f"; {_p_text(comparison['p_value'], alpha)} alone"
    difference = comparison["difference"]
    if comparison["distinguishable"]:
        direction = "higher" if difference > 0 else "lower"
        return f"{head}, {_num(abs(difference))} {direction} than {reference}, distinguishable ({p}){failures}."
    seeds = f"{n} seeds" if n == ref_n else f"{n} and {ref_n} seeds"
    level = f"{comparison['confidence']:.0%}"
    return (f"{head}, not distinguishable from {reference} at {seeds} ({p}): the difference is "
            f"{_num(difference)}, {level} CI [{_num(comparison['ci_low'])}, {_num(comparison['ci_high'])}]{failures}.")


def _num(value: float) -> str:
    return f"{value:.3g}" if _is_finite(value) else "n/a"


def _p_text(p: float, alpha: float) -> str:
    """``p=0.61``, ``p<0.001``; with enough digits that the rounded value falls on the same side of alpha."""
    if p < 0.001:
        return "p<0.001" if p > 0 else "p=0"
    for digits in range(2, 8):
        text = f"{p:.{digits}g}"
        if (float(text) < alpha) == (p < alpha):
            return f"p={text}"
    return f"p={p!r}"


# --- the study directory -----------------------------------------------------------------------------------------

def write_tables(study_dir: str | Path, *, confidence: float = 0.95, test: str = "welch",
                 n_boot: int = 10000, seed: int = 0) -> tuple[Path, Path]:
    """Write ``summary.csv`` and ``comparisons.csv`` from a study's ``results.csv`` (its ``best_value`` column).

    Args:
        study_dir: a study directory (``study.json`` gives the metric's mode).
        confidence, test, n_boot, seed: as for :func:`compare`.

    Returns:
        ``(summary_path, comparisons_path)``; columns ``SUMMARY_COLUMNS`` and ``COMPARISON_COLUMNS``
        (NaN written as ``nan``, ``distinguishable`` as ``true``/``false``).

    Raises:
        TrainlabError: the study directory cannot be read.

    Example:
        >>> write_tables("studies/optimizers")  # doctest: +SKIP
        (PosixPath('studies/optimizers/summary.csv'), PosixPath('studies/optimizers/comparisons.csv'))
    """
    study = read_study(study_dir)
    values = study.values()
    summary = summarize(values, confidence)
    comparisons = compare(values, study.mode, confidence=confidence, test=test, n_boot=n_boot, seed=seed)
    summary_path, comparisons_path = study.dir / SUMMARY, study.dir / COMPARISONS
    write_csv(summary_path, SUMMARY_COLUMNS, summary)
    write_csv(comparisons_path, COMPARISON_COLUMNS, comparisons)
    return summary_path, comparisons_path


# --- small helpers -----------------------------------------------------------------------------------------------

def _finite(sample: Sequence[float]) -> tuple[np.ndarray, int]:
    """The finite values of a sample (as floats), and how many were not."""
    array = np.array([to_float(v) for v in sample], dtype=float)
    keep = np.isfinite(array)
    return array[keep], int((~keep).sum())


def _std(a: np.ndarray) -> float:
    # Identical values have no spread: exactly 0, not the rounding residue of a mean.
    return 0.0 if np.ptp(a) == 0 else float(np.std(a, ddof=1))


def _mean(a: np.ndarray) -> float:
    if not len(a):
        return NAN
    # Identical values: the value itself, so that 3 and 5 copies of it have the same mean to the last bit.
    return float(a[0]) if np.ptp(a) == 0 else float(np.mean(a))


def _mean_or_none(a: np.ndarray) -> float | None:
    finite = a[np.isfinite(a)]
    return float(finite.mean()) if len(finite) else None


def _is_finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ArgumentError("mode", "must be max (higher is better) or min (lower is better)", mode)


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ArgumentError("confidence", "must be between 0 and 1 (exclusive)", confidence)
