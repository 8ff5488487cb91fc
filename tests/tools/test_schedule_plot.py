"""``trainlab schedules plot`` (tutorial section 3): plotted values against closed forms, a recipe's
schedule over its real steps, and the errors a user can make."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from trainlab import cli, schedules
from trainlab.errors import TrainlabError

EXPONENTIAL = {"name": "exponential", "initial_learning_rate": 0.1, "decay_steps": 100, "decay_rate": 0.96,
               "staircase": True}
COSINE = {"name": "cosine", "initial_learning_rate": 0.1, "decay_steps": 1000}
STEPS = np.array([0, 1, 99, 100, 101, 250, 499])


def _panels(figure):
    return [ax for ax in figure.axes if ax.get_visible()]


def test_plotted_values_are_the_closed_forms():
    figure = schedules.plot([EXPONENTIAL, COSINE, "piecewise"], steps=500)
    exponential, cosine, piecewise = (ax.get_lines()[0] for ax in _panels(figure))
    assert list(exponential.get_xdata()) == list(range(500))
    np.testing.assert_allclose(exponential.get_ydata()[STEPS], 0.1 * 0.96 ** np.floor(STEPS / 100), rtol=1e-6)
    np.testing.assert_allclose(cosine.get_ydata()[STEPS], 0.05 * (1 + np.cos(np.pi * STEPS / 1000)), rtol=1e-5)
    # A bare name plots the tutorial's example: boundaries 100/200/300, values 0.1/0.05/0.01/0.005.
    expected = np.select([STEPS <= 100, STEPS <= 200, STEPS <= 300], [0.1, 0.05, 0.01], 0.005)
    np.testing.assert_allclose(piecewise.get_ydata()[STEPS], expected, rtol=1e-6)
    titles = [ax.get_title() for ax in _panels(figure)]
    assert titles[0].startswith("exponential\ninitial_learning_rate=0.1, decay_steps=100")
    assert titles[2].startswith("piecewise\nboundaries=[100, 200, 300]")


def test_no_spec_plots_the_tutorials_five():
    assert [c.label.split("(")[0] for c in schedules.curves(steps=10)] == [
        "exponential", "polynomial", "piecewise", "cosine", "warmup_cosine"]


def test_parse_spec_reads_a_flow_mapping_or_a_name():
    text = "{name: exponential, initial_learning_rate: 1e-3, decay_steps: 100, decay_rate: 0.96, staircase: true}"
    assert schedules.parse_spec(text) == {"name": "exponential", "initial_learning_rate": 0.001, "decay_steps": 100,
                                          "decay_rate": 0.96, "staircase": True}
    as_json = '{"name": "cosine", "initial_learning_rate": 0.1, "decay_steps": 5}'
    assert schedules.parse_spec(as_json) == {"name": "cosine", "initial_learning_rate": 0.1, "decay_steps": 5}
    assert schedules.parse_spec("cosine_decay") == "cosine_decay"


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        ([{"name": "exponential", "initial_learning_rate": 0.1, "decay_steps": 0, "decay_rate": 0.9}],
         "specs[0].decay_steps: must be > 0, got 0"),
        ([COSINE, {"name": "cosine", "decay_steps": 10}], "specs[1].initial_learning_rate: is required by schedule"),
        (["cosinus"], "specs[0]: unknown schedule (did you mean 'cosine'?)"),
    ],
)
def test_bad_specs_name_the_spec(specs, message):
    with pytest.raises(TrainlabError) as info:
        schedules.plot(specs)
    assert str(info.value).startswith(message)


# ---------------------------------------------------------------------------- a recipe's run
@pytest.fixture
def recipe(tmp_path, tiny_recipe):
    """The tiny recipe: 160 training samples, batch 32 (5 steps per epoch), 5 epochs: 25 steps."""

    def write(learning_rate, **training):
        data = {**tiny_recipe, "optimizer": {"name": "adam", "learning_rate": learning_rate},
                "training": {**tiny_recipe["training"], **training}}
        path = tmp_path / "recipe.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return write


def test_recipe_schedule_spans_the_runs_real_steps(recipe):
    # decay_steps: 1 written as if it counted epochs: the rate halves every step, not every epoch.
    found = schedules.recipe_schedule(recipe({"name": "exponential", "initial_learning_rate": 0.1,
                                              "decay_steps": 1, "decay_rate": 0.5}))
    assert (found.steps_per_epoch, found.epochs, found.total_steps) == (5, 5, 25)
    np.testing.assert_allclose(found.rates, 0.1 * 0.5 ** np.arange(25), rtol=1e-5)
    assert "below 1% of its start from step 8 = epoch 2 of 5" in found.note
    assert "add unit: epoch" in found.note
    assert found.marker[0] == 8 and found.log_scale

    figure = found.figure()
    (ax,) = [a for a in figure.axes if a.get_visible() and a.get_lines()]
    curve = ax.get_lines()[0]
    np.testing.assert_allclose(curve.get_xdata(), np.arange(1, 26))  # steps of the run, as in steps.csv
    boundaries = sorted(line.get_xdata()[0] for line in ax.get_lines()[1:] if line.get_color() == "0.85")
    assert boundaries == [5.5, 10.5, 15.5, 20.5]
    assert "if decay_steps: 1 meant epochs, add unit: epoch" in ax.get_title(loc="left").replace("\n", " ")


def test_recipe_schedule_in_epochs_is_constant_within_an_epoch(recipe):
    found = schedules.recipe_schedule(recipe({"name": "exponential", "initial_learning_rate": 0.1,
                                              "decay_steps": 1, "decay_rate": 0.5, "unit": "epoch"}))
    np.testing.assert_allclose(found.rates, 0.1 * 0.5 ** (np.arange(25) // 5), rtol=1e-5)
    assert "unit: epoch" not in found.note


def test_recipe_schedule_says_when_the_run_ends_before_the_schedule(recipe):
    found = schedules.recipe_schedule(recipe({"name": "cosine", "initial_learning_rate": 0.1, "decay_steps": 1000}))
    assert found.note.startswith("the run ends at step 25 (epoch 5) long before the schedule does, at step 1001")
    found = schedules.recipe_schedule(recipe({"name": "cosine", "initial_learning_rate": 0.1, "decay_steps": 10}))
    assert found.note.startswith("the schedule reaches its final value 0 at step 11 = epoch 3 of 5")
    assert found.marker[0] == 11
    found = schedules.recipe_schedule(recipe(0.01))
    assert found.note == "constant learning rate 0.01 for all 25 steps"


def test_cli_plots_specs_and_a_recipe(recipe, tmp_path, capsys):
    out = tmp_path / "s.png"
    assert cli.main(["schedules", "plot", "{name: cosine, initial_learning_rate: 0.1, decay_steps: 100}",
                     "exponential", "--steps", "200", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"figure: {out.resolve()}"
    assert out.stat().st_size > 10_000
    path = recipe({"name": "cosine", "initial_learning_rate": 0.1, "decay_steps": 1000})
    assert cli.main(["schedules", "plot", "--recipe", str(path), "--set", "training.epochs=2",
                     "--out", str(tmp_path / "r.svg")]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("the run ends at step 10 (epoch 2) long before the schedule does")
    assert (tmp_path / "r.svg").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["{name: exponential, initial_learning_rate: 0.1, decay_steps: -5, decay_rate: 0.9}"],
         "specs[0].decay_steps: must be > 0, got -5"),
        (["{name: cosine, initial_learning_rate: 0.1"], "specs[0]: is not valid YAML"),
        (["[0.1, 0.01]"],
         "specs[0]: must be a schedule name or a mapping like '{name: cosine, ...}', got '[0.1, 0.01]'"),
        (["cosine", "--steps", "0"], "--steps: must be an integer >= 1, got 0"),
        (["cosine", "--out", "plot.txt"], "--out: must end in .png, .svg or .pdf, got 'plot.txt'"),
        (["cosine", "--recipe", "r.yaml"], "--recipe: plots the recipe's own schedule; give SPECs or --recipe"),
        (["--recipe", "missing.yaml"], "missing.yaml: file not found"),
    ],
)
def test_cli_mistakes_are_one_line_and_exit_2(args, expected, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["schedules", "plot", *args]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"trainlab: error: {expected}")
    assert not list(tmp_path.iterdir())
