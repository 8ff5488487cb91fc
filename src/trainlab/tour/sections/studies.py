"""Sections 6 and 7: the tutorial's one-seed comparisons, as studies over several seeds (``trainlab.study``)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from trainlab.rundir import load
from trainlab.tour.sections import facts as tutorial
from trainlab.tour.section import Compared, Context, Section, Table, interval, num, png_file, relative

# Quick tours: two seeds (the fewest that give a spread) and fewer epochs; the same study files.
QUICK_STUDY = {"seeds": [0, 1], "base.training.epochs": 30}


def run_study(ctx: Context, name: str, folder: str) -> Any:
    """``trainlab.study`` on ``examples/studies/<name>.yaml`` into ``<tour>/<folder>``; its figures and report
    are drawn by the tour in another process."""
    import trainlab  # in a lane: TensorFlow stays out of the tour's process

    study = trainlab.study(ctx.recipe(f"studies/{name}.yaml"), out=ctx.folder(folder),
                           overrides=dict(QUICK_STUDY) if ctx.quick else None, figures=False)
    ctx.draw_study(study.dir)
    return study


def final_values(study: Any, column: str = "final_val_accuracy") -> dict[str, list[float]]:
    """Per variant, a ``results.csv`` column's value of each seed (NaN for a run without it)."""
    values: dict[str, list[float]] = {variant: [] for variant in study.spec.variants}
    for row in study.results:
        value = row.get(column)
        values[row["variant"]].append(float(value) if isinstance(value, (int, float)) else math.nan)
    return values


def study_facts(study: Any) -> dict[str, Any]:
    """The study's ``study.json``: wall time (training), executors, seeds."""
    return json.loads((study.dir / "study.json").read_text(encoding="utf-8"))


def study_time(study: Any) -> tuple[int, float]:
    """The runs the study trained, and its training wall time in seconds."""
    return len(study.results), study_facts(study).get("wall_time_s") or 0.0


def time_compared(study: Any, tutorial_seconds: float) -> Compared:
    """The study's training time beside the tutorial's, whose four variants trained one after another."""
    runs, wall = study_time(study)
    return Compared("training time", f"{tutorial_seconds} s (4 runs, one after another)",
                    f"{wall:.1f} s ({runs} runs: {', '.join(sorted(set(study.executors.values())))})", "differs",
                    f"{wall / runs:.2f} s per run against the tutorial's {tutorial_seconds / 4:.1f} s")


def executors_text(study: Any) -> str:
    """How the study's runs ran, from its record (``fused``, ``sequential``, ``processes``, ``dask: fused``...)."""
    return ", ".join(sorted({how.split(" (")[0] for how in study.executors.values()})) or "no run"


def study_headline(study: Any, tutorial_seconds: float) -> str:
    """The start of the section's terminal line: how many runs, how, in how long (the tutorial's four in how long)."""
    runs, wall = study_time(study)
    return (f"{runs} runs ({len(study.spec.variants)} variants x {len(study.spec.config.seeds)} seeds, "
            f"{executors_text(study)}) in {wall:.1f} s (tutorial {tutorial_seconds} s for 4)")


def study_links(ctx: Context, study: Any, label: str) -> list[tuple[str, str]]:
    return [(f"{label}: study report", relative(ctx, study.dir / "report.html")),
            (f"{label}: study directory (a run directory per variant and seed under runs/)", relative(ctx, study.dir))]


def _seeds_text(seeds: Sequence[int]) -> str:
    return f"{len(seeds)} seeds ({', '.join(str(s) for s in seeds)})"


# ----------------------------------------------------------------------------------------------- section 6
_REGULARIZATION_STORY = (
    "The tutorial trained four variants of an MLP 256-128-64 on 500 samples with 50 features (10 informative), "
    "prone to overfitting: no regularization, dropout 0.3/0.2/0.1, batch normalization, and both; 100 epochs "
    "each, one seed, four sequential fit calls (32.1 s). It printed the final validation accuracy of each "
    "(none 0.9533, dropout 0.9333, batch norm 0.9467, both 0.9467) and read a ranking into numbers that differ "
    "by one to three of its 150 validation samples. trainlab runs examples/studies/regularization.yaml: the same "
    "four variants over several seeds, the variants trained together in one compiled program, traced once and "
    "reused for every seed (its executor, fused unless the study says otherwise, is named below), with a "
    "confidence interval for each mean and a test of each difference."
)


def regularization(ctx: Context) -> Section:
    """Section 6: ``examples/studies/regularization.yaml`` (dropout and batch norm over seeds, fused)."""
    from trainlab.studies.stats import ranking_text, summarize  # in a lane: TensorFlow stays out of the tour's process

    study = run_study(ctx, "regularization", "06-regularization")
    seeds = study.spec.config.seeds
    final = final_values(study)
    summary = {row["variant"]: row for row in summarize(final)}
    best = {row["variant"]: row for row in study.summary}
    printed = tutorial.REGULARIZATION_ACCURACY
    verdict = ranking_verdict(printed, final)
    tol = tutorial.REGULARIZATION_TOLERANCE
    rows, compared = [], []
    for variant, value in printed.items():
        s = summary[variant]
        inside = s["ci_low"] <= value <= s["ci_high"] if math.isfinite(s["ci_low"]) else None
        rows.append([variant, num(value), f"{num(s['mean'])} {interval(s['ci_low'], s['ci_high'])}",
                     f"{num(s['min'])} – {num(s['max'])}", "–" if inside is None else ("yes" if inside else "no"),
                     f"{num(best[variant]['mean'])} {interval(best[variant]['ci_low'], best[variant]['ci_high'])}"])
        near = abs(s["mean"] - value) <= tol
        compared.append(Compared(
            f"final validation accuracy, {variant}", f"{value} (1 seed)", f"{s['mean']:.4f} (mean of {s['n']})",
            "same" if inside else "differs",
            f"95% CI {interval(s['ci_low'], s['ci_high'])}, seeds {num(s['min'])} – {num(s['max'])}: the tutorial's "
            + ("value is inside" if inside else "value is outside" if inside is False else "value cannot be placed")
            + f" the interval; {'within' if near else 'more than'} {tol} of the mean"))
    runs, wall = study_time(study)
    compared += [
        Compared("ranking", _order_text(printed), _order_text({v: summary[v]["mean"] for v in printed}),
                 "same" if verdict["ranking"] == "survives" else "differs", verdict["sentence"]),
        time_compared(study, tutorial.REGULARIZATION_SECONDS),
    ]
    table = Table(
        ["variant", "tutorial (1 seed)", "trainlab, mean [95% CI]", "trainlab, lowest – highest seed",
         "tutorial's value inside the CI?", "at the best epoch (the study's metric), mean [95% CI]"],
        rows,
        f"Final validation accuracy after {study.spec.plans[0].recipe.training.epochs} epochs over "
        f"{_seeds_text(seeds)}, as the tutorial measured it (its last epoch); the last column is the study's own "
        "metric, the validation accuracy at each run's best epoch by validation loss.")
    notes = [
        f"Seeds: the tutorial trained each variant once; trainlab trains each {len(seeds)} times "
        f"({_seeds_text(seeds)}: the initial weights and dropout masks change, the data and batch order do not). "
        f"{verdict['sentence']}",
        "trainlab's ranking at the best epoch, in words: " + " ".join(ranking_text(
            study.summary, study.comparisons, "max", "val_accuracy").splitlines()),
    ]
    return Section(
        6, "Dropout and batch normalization compared",
        line=(study_headline(study, tutorial.REGULARIZATION_SECONDS) + "; final val acc "
              + ", ".join(f"{v} {summary[v]['mean']:.3f}" for v in printed)
              + "; the tutorial's ranking " + {"survives": "survives", "does not survive": "does not survive",
                                               "undecided": "is not decided by the seeds"}[verdict["ranking"]]
              + f" (tests at {len(seeds)} seeds)"),
        story=_REGULARIZATION_STORY, compared=compared, tables=[table], notes=notes,
        figures=[*png_file(study.dir / "curves.png", "Curves over seeds (the study's curves.png)",
                           "Per variant, the mean training and validation loss and accuracy over seeds, with the "
                           "range from the lowest to the highest seed: the tutorial's 2x2 grid of curves, with "
                           "the seed-to-seed spread it could not see."),
                 *png_file(study.dir / "final.png", "Each seed's value (the study's final.png)",
                           "The study's metric for every run, per variant: one dot per seed.")],
        links=study_links(ctx, study, "regularization"), runs=runs,
        tutorial_seconds=tutorial.REGULARIZATION_SECONDS,
        values={"seeds": list(seeds), "final": {v: summary[v] for v in printed}, "runs": runs,
                "executors": dict(study.executors), "ranking": verdict["ranking"], "same_order": verdict["same_order"],
                "beaten": verdict["beaten"], "below": verdict["below"],
                "worse_than_worst": verdict["worse_than_worst"], "order": verdict["order"],
                "wall_time_s": wall},
    )


def ranking_verdict(printed: Mapping[str, float], values: Mapping[str, Sequence[float]],
                    mode: str = "max") -> dict[str, Any]:
    """Does the tutorial's one-seed ranking survive the seeds? Decided by the study's tests, not by the order of
    the means: is the tutorial's best variant distinguishable from the best (then it does not survive), and is
    its worst distinguishable from every other variant (then it survives)? Neither: the seeds cannot tell.

    Args:
        printed: the tutorial's value of each variant (one seed).
        values: per variant, each seed's value.
        mode: ``"max"`` if higher is better.

    Returns:
        ``ranking`` (``"survives"``, ``"does not survive"`` or ``"undecided"``), ``sentence`` (in words),
        ``order`` (by mean, best first), ``same_order`` (the exact order of the tutorial's values, ties apart),
        ``beaten`` (the tutorial's best variants distinguishable from the best), ``below`` (the variants
        distinguishable from the tutorial's worst, better than it), ``worse_than_worst`` (distinguishable, worse).
    """
    from trainlab.studies.stats import compare  # in a lane: TensorFlow stays out of the tour's process

    sign = 1 if mode == "max" else -1
    means = {v: float(np.nanmean(values[v])) for v in printed}
    order = sorted(printed, key=lambda v: -sign * means[v])
    n = min(len(values[v]) for v in printed)
    tops = [v for v in printed if printed[v] == max(printed.values(), key=lambda x: sign * x)]
    bottoms = [v for v in printed if printed[v] == min(printed.values(), key=lambda x: sign * x)]
    to_best = {c["variant"]: c for c in compare({v: values[v] for v in printed}, mode)}
    beaten = [v for v in tops if v in to_best and to_best[v]["distinguishable"]]
    below, worse = [], []
    for worst in bottoms:
        for c in compare({v: values[v] for v in printed}, mode, reference=worst):
            if c["distinguishable"] and c["variant"] not in bottoms:
                (below if sign * c["difference"] > 0 else worse).append(c["variant"])
    others = [v for v in printed if v not in bottoms]
    at = f"at {n} seeds (Welch's t-tests, p Holm-adjusted over the comparisons)"
    if beaten or worse:
        ranking = "does not survive"
        why = [f"{_names(beaten)} {'is' if len(beaten) == 1 else 'are'} distinguishable from the best, '{order[0]}'"
               ] if beaten else []
        why += [f"{_names(worse)} {'is' if len(worse) == 1 else 'are'} distinguishably below the tutorial's worst, "
                f"{_names(bottoms)}"] if worse else []
        sentence = f"The tutorial's ranking does not survive {at}: " + "; ".join(why) + "."
    elif sorted(set(below)) == sorted(others) and len(bottoms) == 1:
        ranking = "survives"
        sentence = (f"The tutorial's ranking survives {at}: its best, {_names(tops)}, is not distinguishable from "
                    f"the best, and its worst, {_names(bottoms)}, is distinguishably below every other variant.")
    else:
        ranking = "undecided"
        sentence = (f"The seeds cannot decide the tutorial's ranking {at}: its best, {_names(tops)}, is not "
                    f"distinguishable from the best, but its worst, {_names(bottoms)}, is not distinguishable from "
                    f"{_names([v for v in others if v not in below])}.")
    spread = max(float(np.nanmax(values[v]) - np.nanmin(values[v])) for v in printed)
    gap = max(printed.values()) - min(printed.values())
    sentence += (f" The means rank {_order_text(means)}; one variant's seeds alone spread over {spread:.3f}, against "
                 f"{gap:.3f} between the tutorial's best and worst variant.")
    tutorial_order = sorted(printed, key=lambda v: -sign * printed[v])
    same = all(sign * means[a] >= sign * means[b] for a, b in zip(tutorial_order, tutorial_order[1:])
               if printed[a] != printed[b])
    return {"ranking": ranking, "sentence": sentence, "order": order, "same_order": same, "beaten": beaten,
            "below": sorted(set(below)), "worse_than_worst": sorted(set(worse)), "seed_spread": spread,
            "tutorial_gap": gap}


def _names(variants: Sequence[str]) -> str:
    return " and ".join(f"'{v}'" for v in variants) or "none"


def _order_text(values: Mapping[str, float]) -> str:
    ordered = sorted(values, key=lambda v: -values[v])
    text = ordered[0]
    for previous, variant in zip(ordered, ordered[1:]):
        text += (" = " if abs(values[previous] - values[variant]) < 1e-9 else " > ") + variant
    return text


# ----------------------------------------------------------------------------------------------- section 7
_WEIGHT_DECAY_STORY = (
    "The tutorial trained an MLP 128-64 on 800 samples with 30 features (5 informative) four times, with no "
    "weight penalty, L1 0.01, L2 0.01, and both, on the hidden layers' kernels; 150 epochs each, one seed, "
    "36.9 s. It drew the training and validation loss curves, a histogram of the first layer's weights and bars "
    "of their L1 and L2 norms, and printed no accuracies. trainlab runs examples/studies/weight_decay.yaml over "
    "several seeds, fused into one program; the study's weights.png is the tutorial's histogram and norm bars."
)


def weight_decay(ctx: Context) -> Section:
    """Section 7: ``examples/studies/weight_decay.yaml`` (L1, L2, both; the first layer's weights)."""
    from trainlab.studies.stats import ranking_text, summarize  # in a lane: TensorFlow stays out of the tour's process

    study = run_study(ctx, "weight_decay", "07-weight-decay")
    seeds = study.spec.config.seeds
    final = {row["variant"]: row for row in summarize(final_values(study))}
    best = {row["variant"]: row for row in study.summary}
    norms: dict[str, dict[str, list[float]]] = {}
    for row in study.results:
        records = load(study.dir / "runs" / row["variant"] / f"seed{row['seed']}", steps=False)
        last = [r for r in records.layers if r["layer"] == "dense_1"][-1]
        kernel = records.weights.get("dense_1", {})
        values = kernel[max(kernel)] if kernel else np.array([])
        entry = norms.setdefault(row["variant"], {"l1": [], "l2": [], "near_zero": []})
        entry["l1"].append(float(last["weight_l1"]))
        entry["l2"].append(float(last["weight_norm"]))
        entry["near_zero"].append(float(np.mean(np.abs(values) < 1e-3)) if len(values) else math.nan)
    means = {v: {k: float(np.mean(x)) for k, x in entry.items()} for v, entry in norms.items()}
    rows = [[v, f"{num(best[v]['mean'])} {interval(best[v]['ci_low'], best[v]['ci_high'])}",
             f"{num(final[v]['mean'])} {interval(final[v]['ci_low'], final[v]['ci_high'])}",
             num(means[v]["l1"]), num(means[v]["l2"]), f"{means[v]['near_zero']:.1%}"]
            for v in study.spec.variants]
    runs, wall = study_time(study)
    sparsest = max(means, key=lambda v: means[v]["near_zero"])
    compared = [
        Compared("first layer's L1 norm: none vs L1 0.01", "bars (no numbers)",
                 f"{means['none']['l1']:.1f} vs {means['l1']['l1']:.1f}", "new",
                 f"with the L1 penalty {means['l1']['near_zero']:.0%} of the first layer's weights are below 0.001, "
                 f"without it {means['none']['near_zero']:.0%}"),
        Compared("share of first-layer weights below 0.001", "histogram",
                 ", ".join(f"{v} {means[v]['near_zero']:.0%}" for v in study.spec.variants), "new",
                 "from each run's weights.npz, after the last epoch"),
        time_compared(study, tutorial.WEIGHT_DECAY_SECONDS),
    ]
    table = Table(["variant", "val accuracy at the best epoch, mean [95% CI]", "final val accuracy, mean [95% CI]",
                   "first layer L1 norm (mean)", "first layer L2 norm (mean)", "weights below 0.001"], rows,
                  f"Over {_seeds_text(seeds)}; the norms are of the first hidden layer's kernel after the last epoch "
                  "(layers.csv), the share of near-zero weights from weights.npz.")
    notes = [f"Seeds: the tutorial trained each variant once and printed no accuracy; trainlab trains each "
             f"{len(seeds)} times. In words: " + " ".join(ranking_text(study.summary, study.comparisons, "max",
                                                                          "val_accuracy").splitlines())]
    return Section(
        7, "L1 and L2 weight regularization compared",
        line=(study_headline(study, tutorial.WEIGHT_DECAY_SECONDS) + f"; {sparsest} leaves "
              f"{means[sparsest]['near_zero']:.0%} of the first layer's weights below 0.001; best val acc " + ", ".join(
                  f"{v} {best[v]['mean']:.3f}" for v in study.spec.variants)),
        story=_WEIGHT_DECAY_STORY, compared=compared, tables=[table], notes=notes,
        figures=[*png_file(study.dir / "weights.png", "The first layer's weights (the study's weights.png)",
                           "The tutorial's last two panels: the first layer's weights after training (one seed per "
                           "variant) and their L1 and L2 norms over seeds."),
                 *png_file(study.dir / "curves.png", "Curves over seeds (the study's curves.png)",
                           "The tutorial's first two panels, training and validation loss, as the mean over seeds "
                           "with the range of the seeds.")],
        links=study_links(ctx, study, "weight decay"), runs=runs, tutorial_seconds=tutorial.WEIGHT_DECAY_SECONDS,
        values={"seeds": list(seeds), "norms": means, "best": {v: best[v]["mean"] for v in study.spec.variants},
                "final": {v: final[v]["mean"] for v in study.spec.variants}, "runs": runs,
                "executors": dict(study.executors), "wall_time_s": wall},
    )
