"""``trainlab resume STUDY_DIR``: a study killed with SIGKILL mid-way ends as the study that never stopped.

A tiny fused study (2 variants x 2 seeds: seed 0's runs train together, then seed 1's in the same
program) runs in a subprocess of the command line, its epochs slowed down so that the kill lands
while seed 1 trains, after seed 0 finished. ``trainlab resume`` keeps seed 0's runs (their files
untouched), trains seed 1's again, fused, and writes the tables. Every run's ``best_value`` must
equal that of the same study run straight through (alongside the victim, in its own process).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import yaml

from cli_process import start
from trainlab import cli, rundir

BASE = {
    "data": {"source": "synthetic_classification", "n_samples": 160, "n_features": 8},
    "model": {"hidden": [16, 8]},
    "training": {"epochs": 4, "batch_size": 32, "tensorboard": False},
}
STUDY = {"name": "killed", "base": BASE, "vary": {"plain": {"model.dropout": 0.0}, "dropout": {"model.dropout": 0.3}},
         "seeds": [0, 1], "metric": "val_loss"}
KEYS = [(variant, seed) for variant in STUDY["vary"] for seed in STUDY["seeds"]]



def _run(study_dir: Path, variant: str, seed: int) -> Path:
    return study_dir / "runs" / variant / f"seed{seed}"


def _status(run: Path) -> str | None:
    try:
        return json.loads((run / "summary.json").read_text())["status"]
    except (OSError, ValueError, KeyError):
        return None


def _epochs(run: Path) -> int:
    try:
        return len((run / "history.csv").read_text().splitlines()) - 1
    except OSError:
        return 0


def _files(run: Path) -> dict[str, tuple[int, bytes]]:
    """Every file of a run directory: its modification time and bytes."""
    return {p.relative_to(run).as_posix(): (p.stat().st_mtime_ns, p.read_bytes()) for p in run.rglob("*") if p.is_file()}


def _best_values(study_dir: Path) -> dict[tuple[str, int], float]:
    return {(r["variant"], r["seed"]): r["best_value"] for r in rundir.read_csv(study_dir / "results.csv")}


def test_a_study_killed_mid_way_resumes_without_training_a_finished_run_twice(tmp_path):
    study_file = tmp_path / "study.yaml"
    study_file.write_text(yaml.safe_dump(STUDY, sort_keys=False))
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    reference = start(["study", str(study_file), "--out", str(whole), "--no-figures"])  # alongside the victim
    victim = start(["study", str(study_file), "--out", str(killed), "--no-figures"], slow=True)
    deadline = time.time() + 120
    # Seed 0's runs have finished; seed 1's are training (an epoch recorded, not the last).
    while time.time() < deadline and victim.poll() is None and not (
        all(_status(_run(killed, v, 0)) == "completed" for v in STUDY["vary"])
        and 1 <= _epochs(_run(killed, "plain", 1)) < BASE["training"]["epochs"]
    ):
        time.sleep(0.01)
    assert victim.poll() is None, victim.communicate()[1]
    victim.kill()
    victim.wait()
    assert json.loads((killed / "study.json").read_text())["status"] == "running"
    assert all(_status(_run(killed, v, 1)) == "running" for v in STUDY["vary"])
    finished = {v: _files(_run(killed, v, 0)) for v in STUDY["vary"]}

    resumed = start(["resume", str(killed), "--no-figures"])
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert "kept (finished): 2 (plain/seed0, dropout/seed0)" in out
    assert "retrained (unfinished, no checkpoint): 2 (plain/seed1, dropout/seed1)" in out
    _, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err

    for variant, files in finished.items():  # kept as they were: not trained again, not rewritten
        assert _files(_run(killed, variant, 0)) == files, variant
    study = json.loads((killed / "study.json").read_text())
    assert study["status"] == "completed" and (killed / "summary.csv").is_file()
    assert study["executors"] == {"plain": "fused (2 runs together)", "dropout": "fused (2 runs together)"}
    assert all(_status(_run(killed, v, s)) == "completed" for v, s in KEYS)
    got, want = _best_values(killed), _best_values(whole)
    assert sorted(got) == sorted(want) == sorted(KEYS)
    # Seed 0: the very runs of a study that trained seed 0 the same way. Seed 1: trained again in an engine of
    # its own rather than in seed 0's traced program: the same numbers to float rounding.
    np.testing.assert_allclose([got[k] for k in KEYS], [want[k] for k in KEYS], rtol=1e-5)
    assert all(len(rundir.read_csv(_run(killed, v, s) / "history.csv")) == BASE["training"]["epochs"] for v, s in KEYS)


def test_resume_of_a_completed_study_changes_nothing(tmp_path, capsys):
    import trainlab

    study = trainlab.study({**STUDY, "seeds": [0], "base": {**BASE, "training": {**BASE["training"], "epochs": 1}}},
                           out=tmp_path / "done", figures=False)
    before = {p: p.read_bytes() for p in study.dir.rglob("*") if p.is_file()}
    assert cli.main(["resume", str(study.dir)]) == 2
    assert capsys.readouterr().err == (f"trainlab: error: {study.dir}: the study has completed; there is nothing to "
                                       "resume, got 'completed'\n")
    assert {p: p.read_bytes() for p in study.dir.rglob("*") if p.is_file()} == before


def test_a_stopped_study_keeps_what_finished_and_trains_the_rest_in_process(tmp_path):
    """In-process, without a kill: a finished study made to look stopped (one run unfinished with a checkpoint,
    one never started) resumes them; the study's results equal the original's."""
    import shutil

    import trainlab
    from trainlab.studies import resume_study
    from trainlab.training import checkpoint

    spec = {**STUDY, "executor": "sequential", "base": {**BASE, "training": {**BASE["training"], "epochs": 3}}}
    original = trainlab.study(spec, out=tmp_path / "original", figures=False)
    stopped = tmp_path / "stopped"
    shutil.copytree(original.dir, stopped)
    continued, fresh = _run(stopped, "plain", 1), _run(stopped, "dropout", 1)
    # A run killed in its third epoch: checkpoints up to the second, a summary that says running.
    for path in checkpoint.files(continued)[2:]:
        path.unlink()
    (continued / "model.keras").unlink()
    rundir.write_json(continued / "summary.json", {"status": "running", "name": _run_name(continued),
                                                   "monitor": "val_loss"})
    shutil.rmtree(fresh)  # never started
    rundir.write_json(stopped / "study.json", {**json.loads((stopped / "study.json").read_text()), "status": "running"})
    kept = {v: _files(_run(stopped, v, 0)) for v in STUDY["vary"]}
    lines: list[str] = []
    study = resume_study(stopped, figures=False, echo=lines.append)
    assert lines[1:] == ["  kept (finished): 2 (plain/seed0, dropout/seed0)", "  continued from a checkpoint: 1 "
                         "(plain/seed1)", "  retrained (unfinished, no checkpoint): 0", "  trained (never started): 1 "
                         "(dropout/seed1)"]
    assert {v: _files(_run(stopped, v, 0)) for v in STUDY["vary"]} == kept
    assert [r["status"] for r in study.results] == ["completed"] * 4
    np.testing.assert_allclose([r["best_value"] for r in study.results], [r["best_value"] for r in original.results],
                               rtol=1e-5)
    assert json.loads((stopped / "study.json").read_text())["status"] == "completed"


def _run_name(run: Path) -> str:
    return json.loads((run / "summary.json").read_text())["name"]


def test_ctrl_c_marks_the_study_interrupted_and_names_it_to_resume(tmp_path, capsys, monkeypatch):
    """Ctrl-C while the second run trains (raised where the executor trains it): the study directory is marked
    interrupted, the hint names it, and ``trainlab resume`` finishes it, keeping the first run."""
    import trainlab.studies.executors.local as local

    spec = {**STUDY, "vary": {"plain": {}}, "executor": "sequential",
            "base": {**BASE, "training": {**BASE["training"], "epochs": 1}}}
    study_file = tmp_path / "study.yaml"
    study_file.write_text(yaml.safe_dump(spec, sort_keys=False))
    real, calls = local.train_group, []

    def interrupted_second(group, *args):
        calls.append(group)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(group, *args)

    monkeypatch.setattr(local, "train_group", interrupted_second)
    out = tmp_path / "s"
    assert cli.main(["study", str(study_file), "--out", str(out), "--no-figures"]) == 130
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"trainlab: interrupted; the study directory is marked interrupted; continue with: trainlab resume {out}")
    assert json.loads((out / "study.json").read_text())["status"] == "interrupted"
    assert [r["seed"] for r in rundir.read_csv(out / "results.csv")] == [0]  # written as the first run finished
    first = _files(_run(out, "plain", 0))
    monkeypatch.setattr(local, "train_group", real)
    assert cli.main(["resume", str(out), "--no-figures"]) == 0
    assert "  kept (finished): 1 (plain/seed0)" in capsys.readouterr().out
    assert _files(_run(out, "plain", 0)) == first
    assert json.loads((out / "study.json").read_text())["status"] == "completed"
    assert [r["seed"] for r in rundir.read_csv(out / "results.csv")] == [0, 1]
