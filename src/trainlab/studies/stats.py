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

import csv
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from trainlab.errors import ArgumentError, TrainlabError

STUDY = "study.json"
RESULTS = "results.csv"
SUMMARY = "summary.csv"
COMPARISONS = "comparisons.csv"

SUMMARY_COLUMNS = ["variant", "n", "n_failed", "mean", "std", "sem", "ci_low", "ci_high", "min", "max", "median",
                   "confidence"]
COMPARISON_COLUMNS = ["variant", "reference", "test", "n", "n_reference", "mean", "mean_reference", "difference",
                      "ci_low", "ci_high", "statistic", "df", "p_value", "distinguishable", "confidence", "note"]
MODES = ("max", "min")
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
    """Each variant against a reference: the difference of means, its interval, a p-value.

    ``welch``: Welch's two-sided t-test (no equal-variance assumption) and the
    Welch–Satterthwaite interval of the difference. ``bootstrap``: ``n_boot`` resamples of
    each side (with replacement, ``numpy.random.default_rng(seed)``, first the variant's
    indices, shape ``(n_boot, n)``, then the reference's), the percentile interval of the
    resampled differences, and the two-sided p-value
    ``min(1, 2 * min(#(d* <= 0) + 1, #(d* >= 0) + 1) / (n_boot + 1))``, which agrees with the
    percentile interval (p < 1 - confidence roughly when the interval excludes 0) and is never
    exactly 0 from a finite number of resamples. Each comparison reseeds, so a result does
    not depend on which other variants are in the study.

    When neither side varies (every seed gave the same value, as a deterministic run or a
    small validation set can), the t statistic is undefined; it is settled explicitly
    rather than left to a NaN: different values are distinguishable with p = 0 (no seed of
    one variant came near any seed of the other), equal values are not, with p = 1. A
    ``note`` says so.

    Args:
        values: per variant label, one value per seed; NaN or infinite values (failed runs) are left out.
        mode: ``"max"`` if higher is better (accuracy), ``"min"`` if lower is (loss).
        reference: the variant the others are compared with; by default the best by mean in
            ``mode`` (the first such, on a tie; the first variant when none has a finite value).
        confidence: the level of the intervals; a comparison is distinguishable when
            p < 1 - confidence.
        test: ``"welch"`` or ``"bootstrap"``.
        n_boot: bootstrap resamples.
        seed: the bootstrap's random seed.

    Returns:
        One dict per variant other than the reference, in the order of ``values``, with the
        keys of ``COMPARISON_COLUMNS``: ``difference`` is variant mean minus reference mean,
        ``ci_low``/``ci_high`` its interval, ``statistic`` and ``df`` the t statistic and
        degrees of freedom (NaN for the bootstrap), ``p_value``, ``distinguishable`` (bool) and
        ``note`` (empty, or why the answer is special). With fewer than 2 finite values on
        either side the p-value and interval are NaN and ``distinguishable`` is False.

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
    if reference is None:
        reference = best_variant({label: s for label, (s, _) in samples.items()}, mode)
    elif reference not in samples:
        raise ArgumentError("reference", f"must be one of the variants ({', '.join(samples)})", reference)
    ref, ref_failed = samples[reference]
    rows = []
    for label, (sample, failed) in samples.items():
        if label == reference:
            continue
        row = _compare_pair(sample, ref, confidence, test, n_boot, seed)
        row.update(variant=label, reference=reference, test=test, confidence=confidence)
        notes = [row["note"], _failed_note(label, failed), _failed_note(reference, ref_failed)]
        row["note"] = "; ".join(note for note in notes if note)
        rows.append({column: row[column] for column in COMPARISON_COLUMNS})
    return rows


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


def _compare_pair(a: np.ndarray, b: np.ndarray, confidence: float, test: str, n_boot: int,
                  seed: int) -> dict[str, Any]:
    row: dict[str, Any] = {"n": len(a), "n_reference": len(b), "mean": _mean(a), "mean_reference": _mean(b),
                           "statistic": NAN, "df": NAN, "ci_low": NAN, "ci_high": NAN, "p_value": NAN,
                           "distinguishable": False, "note": ""}
    row["difference"] = row["mean"] - row["mean_reference"]
    if len(a) < 2 or len(b) < 2:
        row["note"] = f"too few runs to test (n={len(a)} against {len(b)}; at least 2 seeds on each side are needed)"
        return row
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        row.update(_no_spread(row["difference"]))
    elif test == "welch":
        row.update(_welch(a, b, confidence))
    else:
        row.update(_bootstrap(a, b, confidence, n_boot, seed))
    row["distinguishable"] = bool(row["p_value"] < 1 - confidence)
    return row


def _welch(a: np.ndarray, b: np.ndarray, confidence: float) -> dict[str, Any]:
    va, vb = _std(a) ** 2 / len(a), _std(b) ** 2 / len(b)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    difference = _mean(a) - _mean(b)
    t = difference / se
    half = float(stats.t.ppf((1 + confidence) / 2, df)) * se
    return {"statistic": t, "df": df, "p_value": float(2 * stats.t.sf(abs(t), df)),
            "ci_low": difference - half, "ci_high": difference + half}


def _bootstrap(a: np.ndarray, b: np.ndarray, confidence: float, n_boot: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    ia = rng.integers(0, len(a), size=(n_boot, len(a)))
    ib = rng.integers(0, len(b), size=(n_boot, len(b)))
    diffs = a[ia].mean(axis=1) - b[ib].mean(axis=1)
    alpha = 1 - confidence
    low, high = np.percentile(diffs, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    tail = min(np.count_nonzero(diffs <= 0), np.count_nonzero(diffs >= 0)) + 1
    note = ""
    if min(len(a), len(b)) < 5:
        note = "bootstrap with fewer than 5 seeds on a side understates the spread; welch is safer"
    return {"p_value": float(min(1.0, 2 * tail / (n_boot + 1))), "ci_low": float(low), "ci_high": float(high),
            "note": note}


def _no_spread(difference: float) -> dict[str, Any]:
    if difference == 0:
        return {"p_value": 1.0, "ci_low": 0.0, "ci_high": 0.0,
                "note": "every seed of both variants gave the same value: no difference (p=1 by convention)"}
    return {"p_value": 0.0, "ci_low": difference, "ci_high": difference,
            "note": "every seed gave the same value within each variant, and the two values differ: "
                    "distinguishable (p=0 by convention; the t statistic is undefined)"}


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
        itself), and ``sentence``.

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
               "distinguishable": bool(comparison.get("distinguishable", False)), "note": comparison.get("note", "")}
        row["sentence"] = _sentence(row, comparison, len(summary_rows), first=rank == 1, metric=metric)
        rows.append(row)
    return rows


def ranking_text(summary_rows: Sequence[Mapping[str, Any]], comparisons: Sequence[Mapping[str, Any]],
                 mode: str, metric: str | None = None) -> str:
    """:func:`ranking` in plain language, one sentence per variant, best first, one per line.

    Example output::

        adam is best on val_accuracy (0.912 ± 0.008 sd, n=5).
        sgd: 0.871, 0.041 lower than adam, distinguishable (p=0.002).
        dropout: 0.909, not distinguishable from adam (p=0.61): the difference is noise at 5 seeds.

    Args:
        summary_rows: :func:`summarize`'s rows.
        comparisons: :func:`compare`'s rows.
        mode: ``"max"`` or ``"min"``.
        metric: the metric's name, said in the first sentence when given.
    """
    return "\n".join(row["sentence"] for row in ranking(summary_rows, comparisons, mode, metric))


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
    reference = comparison["reference"]
    head = f"{label}: {_num(row['mean'])}"
    if not _is_finite(comparison["p_value"]):
        ref_n = comparison["n_reference"]
        if ref_n == 0:
            return f"{head} (n={n}), cannot be compared: every run of {reference} failed{failures}."
        return (f"{head} (n={n}), cannot be told apart from {reference} (n={ref_n}): "
                f"at least 2 successful seeds on each side are needed{failures}.")
    p = _p_text(comparison["p_value"], 1 - comparison["confidence"])
    if comparison["distinguishable"]:
        difference = comparison["difference"]
        direction = "higher" if difference > 0 else "lower"
        return f"{head}, {_num(abs(difference))} {direction} than {reference}, distinguishable ({p}){failures}."
    seeds = f"{n} seeds" if n == comparison["n_reference"] else f"{n} and {comparison['n_reference']} seeds"
    return f"{head}, not distinguishable from {reference} ({p}): the difference is noise at {seeds}{failures}."


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

@dataclass
class Study:
    """A study directory's ``study.json`` and ``results.csv``, read back.

    Attributes:
        dir: the study directory.
        name, metric, mode: from ``study.json``.
        variants: variant label -> its overrides, in ``study.json`` order (then any label
            only ``results.csv`` names).
        seeds: the seeds, in ``study.json`` order.
        executors: variant label -> the executor that ran it.
        wall_time_s: the whole study's wall time, or None.
        results: the rows of ``results.csv``.
    """

    dir: Path
    name: str
    metric: str
    mode: str
    variants: dict[str, Any]
    seeds: list[Any]
    executors: dict[str, str] = field(default_factory=dict)
    wall_time_s: float | None = None
    results: list[dict[str, Any]] = field(default_factory=list)

    def values(self, column: str = "best_value") -> dict[str, list[float]]:
        """Per variant (in order), a ``results.csv`` column's values, seed order; blanks become NaN."""
        out: dict[str, list[float]] = {label: [] for label in self.variants}
        for row in self._sorted_results():
            out.setdefault(str(row["variant"]), []).append(_cell(row.get(column)))
        return out

    def runs(self, variant: str) -> list[tuple[Any, Path]]:
        """``(seed, run directory)`` of each of a variant's runs in ``results.csv``, seed order."""
        return [(row.get("seed"), self.run_dir(variant, row.get("seed")))
                for row in self._sorted_results() if str(row["variant"]) == variant]

    def run_dir(self, variant: str, seed: Any) -> Path:
        return self.dir / "runs" / variant / f"seed{seed}"

    def _sorted_results(self) -> list[dict[str, Any]]:
        rank = {s: k for k, s in enumerate(self.seeds)}
        return sorted(self.results, key=lambda r: rank.get(r.get("seed"), len(rank)))


def read_study(study_dir: str | Path) -> Study:
    """Read ``study.json`` and ``results.csv`` of a study directory.

    Raises:
        TrainlabError: either file is missing or unreadable, ``mode`` is not max/min, or
            ``results.csv`` has no ``variant`` column.
    """
    path = Path(study_dir)
    spec_path, results_path = path / STUDY, path / RESULTS
    for needed in (spec_path, results_path):
        if not needed.is_file():
            raise TrainlabError(str(needed), "is missing: not a study directory, or the study has not finished")
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise TrainlabError(str(spec_path), f"cannot be read as JSON ({e})") from e
    try:
        results = _read_csv(results_path)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise TrainlabError(str(results_path), f"cannot be read as CSV ({e})") from e
    if not isinstance(spec, dict):
        raise TrainlabError(str(spec_path), "must hold a JSON object", type(spec).__name__)
    mode = spec.get("mode", "max")
    if mode not in MODES:
        raise TrainlabError(f"{spec_path}: mode", "must be max or min", mode)
    if results and "variant" not in results[0]:
        raise TrainlabError(str(results_path), "has no variant column")
    variants = dict(spec.get("variants") or {})
    for row in results:
        variants.setdefault(str(row["variant"]), {})
    wall = spec.get("wall_time_s")
    return Study(dir=path, name=str(spec.get("name") or path.name), metric=str(spec.get("metric") or "best_value"),
                 mode=mode, variants=variants, seeds=list(spec.get("seeds") or []),
                 executors=dict(spec.get("executors") or {}),
                 wall_time_s=float(wall) if isinstance(wall, (int, float)) else None, results=results)


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
    _write_csv(summary_path, SUMMARY_COLUMNS, summary)
    _write_csv(comparisons_path, COMPARISON_COLUMNS, comparisons)
    return summary_path, comparisons_path


def read_table(path: str | Path) -> list[dict[str, Any]]:
    """A table written by :func:`write_tables`, read back: labels and notes as text, ``distinguishable`` as bool,
    counts as ints, every other cell a float (``nan`` included)."""
    return _read_csv(Path(path))


def _read_csv(path: Path) -> list[dict[str, Any]]:
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: _typed(k, v) for k, v in row.items()} for row in csv.DictReader(f)]


_TEXT = {"variant", "reference", "test", "note", "executor", "status", "error"}
_INTS = {"seed", "n", "n_failed", "n_reference", "best_epoch", "epochs_run"}


def _typed(column: str, text: str | None) -> Any:
    if column in _TEXT:
        return text or ""
    if column == "distinguishable":
        return str(text).lower() == "true"
    value = _cell(text)
    if column in _INTS and math.isfinite(value) and value.is_integer():
        return int(value)
    if column == "seed" and not math.isfinite(value):
        return text  # a seed that is not a number is still a seed label
    return value


def _write_csv(path: Path, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_cell(row[k]) for k in columns})
    os.replace(tmp, path)


def _csv_cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return value


# --- small helpers -----------------------------------------------------------------------------------------------

def _finite(sample: Sequence[float]) -> tuple[np.ndarray, int]:
    """The finite values of a sample (as floats), and how many were not."""
    array = np.array([_cell(v) for v in sample], dtype=float)
    keep = np.isfinite(array)
    return array[keep], int((~keep).sum())


def _cell(value: Any) -> float:
    if value is None or value == "":
        return NAN
    try:
        return float(value)
    except (TypeError, ValueError):
        return NAN


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
