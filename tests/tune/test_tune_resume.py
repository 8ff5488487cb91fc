"""``trainlab resume TUNE_DIR``: a search killed with SIGKILL mid-way ends as the search that never stopped.

The kill test runs a tiny search (4 trials in populations of 2, pruned at rungs) in a subprocess of
the command line, its epochs slowed down so that the kill lands while the second population trains,
after the first one's rows reached ``trials.csv``. ``trainlab resume`` keeps the first population
(its files untouched), replays the sampler (which asks the second population again, with the same
values) and trains it again. ``trials.csv`` must equal that of the same search run
straight through, alongside the victim in its own process: trials, statuses, pruning, values.

The sampler's replay is also tested alone (no training): after it, TPE asks what it would have asked.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from cli_process import start
from trainlab import cli, rundir
from trainlab.config.loading import validate
from trainlab.tune.records import trial_dir
from trainlab.tune.spec import TuneConfig, TuneSpec
from trainlab.tune.space import parse_space

BASE = {
    "data": {"source": "synthetic_classification", "n_samples": 160, "n_features": 8},
    "model": {"hidden": [16, 8]},
    "training": {"epochs": 4, "batch_size": 32, "tensorboard": False},
}
# Two widths: a population may train in two engines side by side (one per architecture).
SPACE = {"optimizer.learning_rate": {"log_uniform": [1.0e-3, 1.0e-1]}, "model.dropout": {"uniform": [0.0, 0.4]},
         "model.hidden": {"choice": [[16, 8], [8]]}}
SEARCH = {"name": "killed", "base": BASE, "space": SPACE, "trials": 4, "population": 2, "metric": "val_loss",
          "sampler": "tpe", "pruner": {"name": "asha", "min_epochs": 1, "reduction_factor": 2}}



def _rows(tune_dir: Path) -> list[dict]:
    try:
        return rundir.read_csv(tune_dir / "trials.csv")
    except (OSError, ValueError):
        return []


def _epochs(run: Path) -> int:
    try:
        return len((run / "history.csv").read_text().splitlines()) - 1
    except OSError:
        return 0


def _files(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
            for p in folder.rglob("*") if p.is_file()}


def test_a_search_killed_mid_way_resumes_as_the_search_that_never_stopped(tmp_path):
    search = tmp_path / "search.yaml"
    search.write_text(yaml.safe_dump(SEARCH, sort_keys=False))
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    reference = start(["tune", str(search), "--out", str(whole)])  # alongside the victim
    victim = start(["tune", str(search), "--out", str(killed)], slow=True)
    deadline = time.time() + 120
    # The first population's rows are written; the second is training (an epoch recorded).
    while time.time() < deadline and victim.poll() is None and not (
        len(_rows(killed)) == 2 and _epochs(trial_dir(killed, 2)) >= 1
    ):
        time.sleep(0.01)
    assert victim.poll() is None, victim.communicate()[1]
    victim.kill()
    victim.wait()
    assert json.loads((killed / "tune.json").read_text())["status"] == "running"
    assert [r["trial"] for r in _rows(killed)] == [0, 1]
    kept = {n: _files(trial_dir(killed, n)) for n in (0, 1)}

    resumed = start(["resume", str(killed)])
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert f"tune {killed}: 2 of 4 trials kept (trials.csv); status was running" in out
    assert "trained again (the population in flight): trials 2" in out and "to train: trials 2 to 3" in out
    _, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err

    for n, files in kept.items():  # not trained again, not rewritten
        assert _files(trial_dir(killed, n)) == files, n
    got, want = _rows(killed), _rows(whole)
    assert [r["trial"] for r in got] == list(range(4))  # each trial once, numbered without a gap
    for a, b in zip(got, want):  # the replayed sampler asked what the uninterrupted search asked
        assert {k: a[k] for k in ("trial", "status", "epochs_run", "pruned_at_epoch", *SPACE)} == \
               {k: b[k] for k in ("trial", "status", "epochs_run", "pruned_at_epoch", *SPACE)}
    np.testing.assert_allclose([r["value"] for r in got], [r["value"] for r in want], rtol=1e-5)
    assert {r["status"] for r in got} >= {"completed", "pruned"}
    tune = json.loads((killed / "tune.json").read_text())
    assert tune["status"] == "completed" and tune["trials_run"] == 4
    assert tune["best_trial"] == json.loads((whole / "tune.json").read_text())["best_trial"]
    assert (killed / "best.yaml").read_text().splitlines()[2:] == (whole / "best.yaml").read_text().splitlines()[2:]
    assert sorted(p.name for p in (killed / "runs").iterdir()) == [f"trial-{n:03d}" for n in range(4)]


def test_a_search_stopped_while_confirming_continues_its_study_and_then_changes_nothing(tmp_path, capsys):
    import trainlab
    from trainlab.tune import resume_tune

    search = {**SEARCH, "trials": 2, "population": 2, "pruner": "none", "confirm": {"top": 1, "seeds": 2},
              "base": {**BASE, "training": {**BASE["training"], "epochs": 2}}}
    original = trainlab.tune(search, out=tmp_path / "t")
    confirm = original.dir / "confirm"
    variant = next(iter(original.confirm.spec.variants))
    want = rundir.read_csv(confirm / "results.csv")
    # What a kill while the confirmation's second seed trained leaves.
    stopped = confirm / "runs" / variant / "seed1"
    shutil.rmtree(stopped)
    stopped.mkdir()
    for name in ("tune.json", "confirm/study.json"):
        path = original.dir / name
        status = "confirming" if name == "tune.json" else "running"
        rundir.write_json(path, {**json.loads(path.read_text()), "status": status})
    (original.dir / "best.yaml").unlink()
    trials = (original.dir / "trials.csv").read_text()
    runs = {n: _files(trial_dir(original.dir, n)) for n in (0, 1)}
    lines: list[str] = []
    result = resume_tune(original.dir, echo=lines.append)
    assert lines == [f"tune {original.dir}: 2 of 2 trials kept (trials.csv); status was confirming",
                     f"  the confirmation study ({confirm}) continues"]
    assert (original.dir / "trials.csv").read_text() == trials
    assert {n: _files(trial_dir(original.dir, n)) for n in (0, 1)} == runs
    got = rundir.read_csv(confirm / "results.csv")
    np.testing.assert_allclose([r["best_value"] for r in got], [r["best_value"] for r in want], rtol=1e-5)
    assert json.loads((confirm / "study.json").read_text())["status"] == "completed"
    tune = json.loads((original.dir / "tune.json").read_text())
    assert tune["status"] == "completed" and tune["confirm"]["seeds"] == [0, 1]
    assert result.best_trial["trial"] == original.best_trial["trial"] and (original.dir / "best.yaml").is_file()

    before = _files(original.dir)
    assert cli.main(["resume", str(original.dir)]) == 2
    assert capsys.readouterr().err == (f"trainlab: error: {original.dir}: the search has completed; there is "
                                       "nothing to resume, got 'completed'\n")
    assert _files(original.dir) == before


# --------------------------------------------------------------------------------- the sampler alone
def _spec(sampler: str, space: dict, trials: int, population: int, seed: int = 0) -> TuneSpec:
    config = validate(TuneConfig, {"name": "s", "space": space, "trials": trials, "population": population,
                                   "sampler": sampler, "seed": seed})
    return TuneSpec("s", config, parse_space(space), {}, None, "min")


def _outcome(number: int, values: dict) -> tuple[str, float, dict[int, float]]:
    """A made-up result, best near a learning rate of 1e-2: every third trial pruned after 2 epochs, every fifth
    failed, the others completed."""
    lr = values.get("optimizer.learning_rate")
    score = (abs(math.log10(lr) + 2.0) if lr is not None else 0.1 * (number % 4)) + 0.01 * number
    curve = {e: score + 1.0 / e for e in range(1, 5)}
    if number % 5 == 4:
        return "failed", math.nan, {}
    if number % 3 == 2:
        return "pruned", curve[2], {1: curve[1], 2: curve[2]}
    return "completed", curve[4], curve


def _search(sampler, spec, populations: int, tmp_path: Path) -> list[dict]:
    """Ask, tell and write ``trials.csv`` as the search does (rows read back as a resume reads them)."""
    from trainlab.tune.run import trial_columns

    records = rundir.CsvRecords(tmp_path / "trials.csv", trial_columns(spec))
    for _ in range(populations):
        asked = sampler.ask(spec.population)
        for a in asked:
            status, value, curve = _outcome(a.number, a.values)
            records.write([{"trial": a.number, "status": status, "value": value, **a.values}])
            sampler.tell(a, status, value, curve)
    records.close()
    return rundir.read_csv(tmp_path / "trials.csv")


@pytest.mark.parametrize("sampler", ["tpe", "random", "sobol"])
def test_the_replayed_sampler_asks_what_the_uninterrupted_one_asks(tmp_path, sampler):
    from trainlab.tune.resume import _replay
    from trainlab.tune.sampler import Sampler

    space = {"optimizer.learning_rate": {"log_uniform": [1.0e-4, 1.0]}, "model.hidden": {"choice": [[8], [16, 8]]},
             "training.batch_size": {"int": [8, 64]}}
    spec = _spec(sampler, space, trials=40, population=4)
    uninterrupted = Sampler(spec)
    rows = _search(uninterrupted, spec, 4, tmp_path)  # 16 trials: TPE's own model from the 11th on
    curves = {r["trial"]: _outcome(r["trial"], {k: r[k] for k in space})[2] for r in rows}
    replayed = Sampler(spec)
    restored = _replay(replayed, spec, rows, curves)
    assert restored is not None and [r["trial"] for r in restored] == list(range(16))
    assert all(isinstance(r["model.hidden"], list) for r in restored)  # the choice's value, not its CSV text
    assert [t.state for t in replayed.study.trials] == [t.state for t in uninterrupted.study.trials]
    for _ in range(2):
        want, got = uninterrupted.ask(4), replayed.ask(4)
        assert [a.number for a in got] == [a.number for a in want]
        assert [a.values for a in got] == [a.values for a in want]
        for a, b in zip(want, got):
            status, value, curve = _outcome(a.number, a.values)
            uninterrupted.tell(a, status, value, curve)
            replayed.tell(b, status, value, curve)


def test_a_history_that_does_not_replay_is_added_trial_by_trial_and_a_grid_repeats_no_point(tmp_path):
    from trainlab.tune.resume import _added, _replay
    from trainlab.tune.sampler import Sampler

    space = {"model.hidden": {"choice": [[8], [16, 8], [32]]}, "training.batch_size": {"int": [8, 11]}}
    rows = _search(Sampler(_spec("grid", space, 12, 3, seed=1)), _spec("grid", space, 12, 3, seed=1), 2, tmp_path)
    spec = _spec("grid", space, 12, 3, seed=2)  # another seed: another order of the grid's points
    curves = {r["trial"]: _outcome(r["trial"], {k: r[k] for k in space})[2] for r in rows}
    assert _replay(Sampler(spec), spec, rows, curves) is None
    sampler = Sampler(spec)
    restored = _added(sampler, spec, rows, curves)
    assert [r["model.hidden"] for r in restored] == [yaml.safe_load(r["model.hidden"]) for r in rows]
    assert [t.state.name for t in sampler.study.trials[: len(rows)]] == \
           [{"completed": "COMPLETE", "pruned": "PRUNED", "failed": "FAIL"}[r["status"]] for r in rows]
    pruned = next(t for t, r in zip(sampler.study.trials, rows) if r["status"] == "pruned")
    assert pruned.intermediate_values == curves[pruned.number] and pruned.value == curves[pruned.number][2]
    seen = [(str(r["model.hidden"]), r["training.batch_size"]) for r in restored]
    for a in sampler.ask(6):  # the rest of the grid, each point once
        assert a.number == len(seen)
        seen.append((str(a.values["model.hidden"]), a.values["training.batch_size"]))
    assert len(set(seen)) == len(seen) == 12


def test_ctrl_c_marks_the_search_interrupted_and_names_it_to_resume(tmp_path, capsys, monkeypatch):
    """Ctrl-C while the second population trains (raised where it trains): the tune directory is marked
    interrupted, the hint names it, and ``trainlab resume`` finishes the search, numbering on without a gap."""
    import trainlab.tune.run as tune_run

    search = {**SEARCH, "trials": 4, "pruner": "none", "base": {**BASE, "training": {**BASE["training"], "epochs": 1}}}
    search_file = tmp_path / "search.yaml"
    search_file.write_text(yaml.safe_dump(search, sort_keys=False))
    real, calls = tune_run.train_population, []

    def interrupted_second(*args):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(tune_run, "train_population", interrupted_second)
    out = tmp_path / "t"
    assert cli.main(["tune", str(search_file), "--out", str(out)]) == 130
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"trainlab: interrupted; the tune directory is marked interrupted; continue with: trainlab resume {out}")
    assert json.loads((out / "tune.json").read_text())["status"] == "interrupted"
    assert [r["trial"] for r in _rows(out)] == [0, 1]
    monkeypatch.setattr(tune_run, "train_population", real)
    assert cli.main(["resume", str(out)]) == 0
    assert f"tune {out}: 2 of 4 trials kept (trials.csv); status was interrupted" in capsys.readouterr().out
    assert [r["trial"] for r in _rows(out)] == [0, 1, 2, 3]
    assert json.loads((out / "tune.json").read_text())["status"] == "completed" and (out / "best.yaml").is_file()
