"""``summary.json``'s timings (a fake clock for the accounting, a real run for where the timers sit) and
``training.profile`` (TensorFlow's profiler writes its trace under the run's ``tensorboard/``)."""

import copy
import json

import pytest

import trainlab
from trainlab.cli import main
from trainlab.training import timings as timings_module
from trainlab.training.timings import Timings


class Clock:
    """``time.perf_counter`` for the timings module: moves only when told."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(timings_module.time, "perf_counter", fake)
    return fake


def test_nested_parts_count_each_second_once_in_the_innermost(clock):
    timings = Timings()
    with timings.part("training"):
        clock.now += 2.0
        with timings.part("checkpoints"):
            clock.now += 0.5
        clock.now += 1.0
    timings.end_epoch()
    with timings.part("records"):
        clock.now += 0.25
    clock.now += 0.125  # in no part: "other"
    found = timings.as_dict()
    # One epoch: its training counts as tracing (an upper bound), and so do its checkpoints.
    assert found["tracing"] == 3.5 and found["training"] == 0 and found["checkpoints"] == 0
    assert found["records"] == 0.25 and found["other"] == 0.125 and found["total"] == 3.875


def test_tracing_is_the_first_epochs_time_beyond_the_median_of_the_others(clock):
    timings = Timings(runs=4)
    for training, evaluation in [(5.0, 1.5), (1.0, 0.5), (1.2, 0.5), (0.9, 0.7)]:
        with timings.part("training"):
            clock.now += training
        with timings.part("evaluation"):
            clock.now += evaluation
        timings.end_epoch()
    found = timings.as_dict()
    assert found["tracing"] == pytest.approx((5.0 - 1.0) + (1.5 - 0.5))
    assert found["training"] == pytest.approx(1.0 + 1.0 + 1.2 + 0.9)  # the first epoch's steady share stays
    assert found["evaluation"] == pytest.approx(0.5 * 3 + 0.7)
    assert found["total"] == pytest.approx(sum(v for k, v in found.items() if k not in ("total", "how", "runs")))
    assert found["runs"] == 4 and "median" in found["how"]


def test_a_run_writes_its_timings_and_show_and_the_report_print_them(tiny_recipe, tmp_path, capsys):
    recipe = copy.deepcopy(tiny_recipe)
    recipe["training"].update(epochs=4, verbose=1)
    run = trainlab.train(recipe, out=tmp_path / "run")
    found = run.summary["timings"]
    parts = {k: v for k, v in found.items() if k not in ("total", "how")}
    assert set(parts) >= {"tracing", "training", "evaluation", "records", "checkpoints", "callbacks", "saving",
                          "diagnosis", "other"}
    assert all(v >= 0 for v in parts.values()) and found["tracing"] > 0 and found["training"] > 0
    assert sum(parts.values()) == pytest.approx(found["total"], abs=1e-3)
    # From the first callback to the summary: at least the wall time the summary counts (which stops earlier).
    assert found["total"] >= run.summary["wall_time_s"] * 0.99

    assert main(["report", str(run.dir)]) == 0
    summary = json.loads((run.dir / "summary.json").read_text())
    assert summary["timings"]["figures"] > 0 and summary["timings"]["report"] > 0
    page = (run.dir / "report.html").read_text()
    assert "Where the time went" in page and "<th>tracing</th>" in page and "<th>figures</th>" in page
    capsys.readouterr()
    assert main(["show", str(run.dir)]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("time: "))
    assert "tracing" in line and "training" in line and "then figures" in line


def test_profile_traces_one_epoch_into_the_runs_tensorboard_folder(tiny_recipe, tmp_path):
    recipe = copy.deepcopy(tiny_recipe)
    recipe["training"].update(epochs=2, profile={"epoch": 2})  # tensorboard off in the tiny recipe: traced anyway
    run = trainlab.train(recipe, out=tmp_path / "run")
    traces = list((run.dir / "tensorboard" / "plugins" / "profile").glob("*/*.xplane.pb"))
    assert len(traces) == 1 and traces[0].stat().st_size > 0
    assert run.summary["timings"]["profiling"] > 0


def test_no_profile_no_trace(tiny_recipe, tmp_path):
    run = trainlab.train(copy.deepcopy(tiny_recipe), out=tmp_path / "run")
    assert not (run.dir / "tensorboard").exists() and "profiling" not in run.summary["timings"]
