"""The pruning rules on reported values (no training): rungs, synchronous halving, the median rule."""

from __future__ import annotations

from trainlab.tune.pruning import Pruner
from trainlab.tune.spec import PrunerConfig


def _epoch(pruner, values, epoch):
    """One fused epoch: every trial begins it and gets its validation results, then each ends it."""
    for trial in values:
        pruner.begin(trial, epoch)
    for trial, value in values.items():
        pruner.report(trial, {pruner.metric.removeprefix("val_"): value})
    return {trial: pruner.should_stop(trial, epoch) for trial in values}


def test_asha_rungs_lie_below_the_last_epoch():
    pruner = Pruner(PrunerConfig(name="asha", min_epochs=2, reduction_factor=3), "val_loss", "min", 20)
    assert pruner.rungs(0) == pruner.rungs(5) == [2, 6, 18]


def test_a_trial_with_fewer_epochs_has_its_rungs_below_its_own_last_epoch():
    """With training.epochs in the space, the pruner gets the most epochs; each trial's rungs stop below its own."""
    pruner = Pruner(PrunerConfig(name="asha", min_epochs=1, reduction_factor=3), "val_loss", "min", 30)
    pruner.callback(0, epochs=9)
    pruner.callback(1, epochs=30)
    pruner.callback(2)
    assert pruner.rungs(0) == [1, 3] and pruner.rungs(1) == pruner.rungs(2) == [1, 3, 9, 27]


def test_the_most_epochs_come_from_the_space_when_it_has_training_epochs():
    from trainlab.tune.run import _most_epochs
    from trainlab.tune.spec import load_tune

    base = {"data": {"source": "synthetic_classification", "n_samples": 100}, "training": {"epochs": 10}}
    choice = load_tune({"base": base, "space": {"training.epochs": {"choice": [5, 30]}}, "trials": 2})
    ranged = load_tune({"base": base, "space": {"training.epochs": {"int": [3, 8]}}, "trials": 2})
    alone = load_tune({"base": base, "space": {"optimizer.learning_rate": {"log_uniform": [1e-3, 1e-1]}}, "trials": 2})
    assert (_most_epochs(choice), _most_epochs(ranged), _most_epochs(alone)) == (30, 10, 10)


def test_hyperband_deals_trials_to_brackets_with_later_first_rungs():
    pruner = Pruner(PrunerConfig(name="hyperband", min_epochs=1, reduction_factor=3), "val_loss", "min", 10)
    assert pruner.brackets() == 3
    assert [pruner.rungs(t) for t in range(4)] == [[1, 3, 9], [3, 9], [9], [1, 3, 9]]


def test_a_population_keeps_its_best_third_at_a_rung():
    pruner = Pruner(PrunerConfig(name="asha", min_epochs=1, reduction_factor=3), "val_loss", "min", 4)
    stops = _epoch(pruner, {0: 0.5, 1: 0.1, 2: 0.9, 3: 0.3, 4: float("nan"), 5: 0.7}, 0)
    assert stops == {0: True, 1: False, 2: True, 3: False, 4: True, 5: True}
    assert pruner.pruned == {0: 1, 2: 1, 4: 1, 5: 1}
    assert _epoch(pruner, {1: 0.2, 3: 0.1}, 1) == {1: False, 3: False}  # epoch 2 is no rung


def test_a_population_in_engines_side_by_side_is_pruned_as_in_one():
    """Engines side by side: the first engine's trials end epoch 1 and begin epoch 2 before the second's end
    epoch 1 (every validation of epoch 1 came in first); the rung's decisions are those of one engine."""
    values = {0: 0.1, 1: 0.2, 2: 0.9, 3: 0.3, 4: 0.4, 5: float("nan")}
    pruner = Pruner(PrunerConfig(name="asha", min_epochs=1, reduction_factor=2), "val_loss", "min", 4)
    first, second = [0, 1, 2], [3, 4, 5]
    for group in (first, second):
        for trial in group:
            pruner.begin(trial, 0)
            pruner.report(trial, {"loss": values[trial]})
    stops = {trial: pruner.should_stop(trial, 0) for trial in first}
    for trial in first:
        if not stops[trial]:
            pruner.begin(trial, 1)
    stops.update({trial: pruner.should_stop(trial, 0) for trial in second})
    assert stops == {0: False, 1: False, 2: True, 3: False, 4: True, 5: True}  # the best half of the six


def test_a_later_population_is_ranked_with_the_earlier_ones():
    pruner = Pruner(PrunerConfig(name="asha", min_epochs=1, reduction_factor=2), "val_accuracy", "max", 4)
    _epoch(pruner, {0: 0.9, 1: 0.8}, 0)
    for t in (0, 1):
        pruner.finish(t)
    # at rung 1: 0.9, 0.8 earlier; 0.85 and 0.5 now: the best half of four is 0.9 and 0.85
    assert _epoch(pruner, {2: 0.85, 3: 0.5}, 0) == {2: False, 3: True}


def test_median_stops_a_trial_worse_than_the_finished_trials_median():
    pruner = Pruner(PrunerConfig(name="median", min_epochs=2), "val_loss", "min", 5)
    for trial, value in ((0, 0.2), (1, 0.4)):
        _epoch(pruner, {trial: value}, 1)
        pruner.finish(trial)
    assert _epoch(pruner, {2: 0.35}, 0) == {2: False}  # epoch 1 < min_epochs, and no history there
    assert _epoch(pruner, {2: 0.35}, 1) == {2: True}   # median of 0.2 and 0.4 is 0.3
    assert _epoch(pruner, {3: 0.25}, 1) == {3: False}


def test_none_never_stops():
    pruner = Pruner(PrunerConfig(name="none"), "val_loss", "min", 5)
    assert _epoch(pruner, {0: 1.0, 1: 0.1, 2: 0.2}, 0) == {0: False, 1: False, 2: False}


def test_mode_max_keeps_the_highest_values_and_picks_the_highest_best():
    """``mode: max`` (an accuracy, or a loss asked to be maximized): the best are the highest, at rungs and at the end."""
    from trainlab.tune.run import _best

    pruner = Pruner(PrunerConfig(name="asha", min_epochs=1, reduction_factor=3), "val_accuracy", "max", 4)
    stops = _epoch(pruner, {0: 0.5, 1: 0.9, 2: 0.7, 3: 0.6, 4: 0.8, 5: 0.55}, 0)
    assert [t for t, stop in stops.items() if not stop] == [1, 4]
    rows = [{"status": "completed", "value": v, "trial": t} for t, v in enumerate([0.2, 0.9, 0.5])]
    assert _best(rows, "max")["trial"] == 1 and _best(rows, "min")["trial"] == 0
    rows.append({"status": "pruned", "value": 0.99, "trial": 3})  # stopped short: not a candidate
    assert _best(rows, "max")["trial"] == 1
