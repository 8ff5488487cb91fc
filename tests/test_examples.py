"""Every shipped example recipe validates and trains (for two epochs here)."""

from pathlib import Path

import pytest

import trainlab

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.yaml"))


def test_the_four_examples_are_there():
    assert {p.stem for p in EXAMPLES} >= {"basic", "advanced", "digits", "regression"}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_trains(path, tmp_path):
    run = trainlab.train(path, out=tmp_path / "run", overrides=["training.epochs=2", "training.verbose=0"])
    assert run.summary["status"] == "completed" and run.summary["epochs_run"] == 2
    assert (run.dir / "model.keras").exists()


def test_examples_say_what_the_tutorial_says():
    advanced = trainlab.load_recipe(Path(__file__).parents[1] / "examples" / "advanced.yaml")[0]
    assert advanced.optimizer.clip_norm == 1.0 and advanced.training.early_stopping.patience == 15
    assert advanced.optimizer.learning_rate["name"] == "exponential" and advanced.training.epochs == 200
    digits = trainlab.load_recipe(Path(__file__).parents[1] / "examples" / "digits.yaml")[0]
    assert digits.training.reduce_lr_on_plateau.factor == 0.5 and digits.training.batch_size == 128
    names = [c["name"] for c in digits.training.callbacks]
    assert names == ["model_checkpoint", "csv_logger"] and digits.training.tensorboard.histogram_freq == 1


STUDIES = sorted((Path(__file__).parents[1] / "examples" / "studies").glob("*.yaml"))


def test_the_example_studies_are_there_and_valid():
    from trainlab.studies import load_study

    assert {p.stem for p in STUDIES} >= {"optimizers", "schedules", "regularization", "weight_decay", "losses"}
    for path in STUDIES:
        spec = load_study(path)
        assert len(spec.plans) == len(spec.variants) * len(spec.config.seeds) >= 6


def test_regularization_study_trains_fused(tmp_path):
    """Tutorial section 6's four variants, two seeds, two epochs: four in one program, two seeds in turn."""
    study = trainlab.study(STUDIES[[p.stem for p in STUDIES].index("regularization")], out=tmp_path / "s",
                           overrides=["base.training.epochs=2", "seeds=[0, 1]"], figures=False)
    assert set(study.executors.values()) == {"fused (4 runs together, 2 seeds in turn in one traced program)"}
    assert [r["variant"] for r in study.summary] == ["none", "dropout", "batch_norm", "both"]
