"""Several cohorts side by side (train_sessions): each run as trained alone, epochs in step, failures kept apart."""

from __future__ import annotations

import keras
import pytest

from trainlab.config import load_recipe
from trainlab.training import Session, Trainer, fit_together, train_sessions


def _trainer(recipe, **changes):
    resolved, _, _ = load_recipe({**recipe, **changes})
    return Trainer(resolved, name=resolved.name)


class Events(keras.callbacks.Callback):
    """Writes ``(run, hook, epoch)`` into a list that several runs share."""

    def __init__(self, run, events, fail_at=None):
        super().__init__()
        self.run, self.events, self.fail_at, self.epoch = run, events, fail_at, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_test_end(self, logs=None):
        self.events.append((self.run, "test_end", self.epoch))

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.fail_at:
            raise RuntimeError("this callback fails")
        self.events.append((self.run, "epoch_end", epoch))


@pytest.fixture
def recipes(tiny_recipe):
    """Two programs (different widths) on one data set."""
    base = {**tiny_recipe, "data": {**tiny_recipe["data"], "seed": 3}, "training": {**tiny_recipe["training"],
                                                                                     "epochs": 3}}
    return {**base, "name": "wide"}, {**base, "name": "narrow", "model": {"hidden": [8], "dropout": 0.0}}


def test_side_by_side_each_run_is_as_trained_alone_and_epochs_go_in_step(tmp_path, recipes):
    wide, narrow = recipes
    events = []
    sessions = [Session([_trainer(r)], [tmp_path / r["name"]], [[Events(r["name"], events)]]) for r in recipes]
    runs = train_sessions(sessions)
    alone = [fit_together([_trainer(r)], [tmp_path / f"alone-{r['name']}"])[0] for r in recipes]
    for (side,), single in zip(runs, alone):
        assert side.summary["status"] == "completed" and "waiting" not in single.summary["timings"]
        for a, b in zip(side.history, single.history, strict=True):
            assert a["loss"] == pytest.approx(b["loss"], rel=1e-6)
            assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-6)
        timings = side.summary["timings"]
        assert timings["waiting"] > 0 and timings["total"] >= timings["waiting"]
    for epoch in range(3):  # every run's validation of an epoch comes before any run ends it
        ends = [i for i, (_, hook, e) in enumerate(events) if e == epoch and hook == "epoch_end"]
        tests = [i for i, (_, hook, e) in enumerate(events) if e == epoch and hook == "test_end"]
        assert len(ends) == len(tests) == 2 and max(tests) < min(ends)


def test_a_session_that_fails_is_closed_failed_and_the_others_go_on(tmp_path, recipes):
    events = []
    sessions = [Session([_trainer(recipes[0])], [tmp_path / "fails"], [[Events("a", events, fail_at=1)]]),
                Session([_trainer(recipes[1])], [tmp_path / "goes-on"], [[Events("b", events)]])]
    (failed,), (completed,) = train_sessions(sessions)
    assert failed.summary["status"] == "failed" and "this callback fails" in failed.summary["error"]
    assert completed.summary["status"] == "completed" and len(completed.history) == 3


def test_one_session_raises_its_error_as_fit_together_does(tmp_path, recipes):
    events = []
    trainer = _trainer(recipes[0])
    with pytest.raises(RuntimeError, match="this callback fails"):
        fit_together([trainer], [tmp_path / "fails"], [[Events("a", events, fail_at=0)]])
    assert trainer.state.summary["status"] == "failed"
