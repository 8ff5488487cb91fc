"""``trainlab optimizers race`` (tutorial section 2): closed forms, known minima, records and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from trainlab import cli
from trainlab.errors import TrainlabError
from trainlab.optimizers import FUNCTIONS, race


def test_sgd_on_the_quadratic_follows_the_closed_form():
    # x_t - 2 = -2 (1 - 2 lr)^t per coordinate, so f(x_t) = 2 * 4 (1 - 2 lr)^(2t).
    lr, steps = 0.1, 30
    result = race(["sgd"], ["quadratic"], steps=steps, learning_rate=lr)
    t = np.arange(steps + 1)
    expected = 8.0 * (1 - 2 * lr) ** (2 * t)
    np.testing.assert_allclose(result.losses[("sgd", "quadratic")], expected, rtol=1e-4)
    np.testing.assert_allclose(result.final_x[("sgd", "quadratic")], 2 - 2 * (1 - 2 * lr) ** steps, rtol=1e-5)
    # 8 * 0.64^t < 1e-3 first at t = 21 (0.64^20 = 1.3e-4 > 1.25e-4 > 0.64^21).
    assert result.steps_to_tol[("sgd", "quadratic")] == 21
    assert result.diverged_at[("sgd", "quadratic")] is None


def test_momentum_is_sgd_with_momentum_0_9_and_other_registered_names_race():
    result = race(["momentum", "nadam", {"name": "sgd", "momentum": 0.5}], ["quadratic"], steps=2, learning_rate=0.1)
    assert result.optimizers == ["momentum", "nadam", "sgd(momentum=0.5)"]
    # By hand, Keras' rule v <- 0.9 v - lr g, x <- x + v from x = 0 (g = 2 (x - 2)):
    # x_1 = 0.4, x_2 = 0.4 + (0.9 * 0.4 + 0.1 * 3.2) = 1.08, so f(x_2) = 2 * 0.92^2.
    np.testing.assert_allclose(result.losses[("momentum", "quadratic")], [8.0, 2 * 1.6**2, 2 * 0.92**2], rtol=1e-5)
    np.testing.assert_allclose(result.final_x[("sgd(momentum=0.5)", "quadratic")], [0.4 + 0.52] * 2, rtol=1e-5)


def test_adam_reaches_every_known_minimum_with_enough_steps():
    result = race(["adam"], list(FUNCTIONS), steps=1000, learning_rate=0.1)
    for function in result.functions:
        pair = ("adam", function.name)
        np.testing.assert_allclose(result.final_x[pair], function.minimizer, atol=0.02, err_msg=function.name)
        assert result.final_loss[pair] < 1e-3, function.name
        assert result.steps_to_tol[pair] is not None


def test_divergence_is_recorded_and_drawn():
    result = race(["sgd", "adam"], ["rosenbrock", "quadratic"], steps=20, learning_rate=0.1)
    assert result.diverged_at[("sgd", "rosenbrock")] is not None  # a step of 15 on the valley wall
    assert result.steps_to_tol[("sgd", "rosenbrock")] is None
    assert result.diverged_at[("adam", "rosenbrock")] is None
    rows = {(r["optimizer"], r["function"]): r for r in result.rows()}
    assert np.isnan(rows[("sgd", "rosenbrock")]["final_loss"])

    figure = result.figure()
    panels = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title().split(":")[0] for ax in panels] == ["rosenbrock", "quadratic"]
    assert all(ax.get_yscale() == "log" for ax in panels)
    curves = [line for line in panels[1].get_lines() if line.get_label() in ("sgd", "adam")
              or line.get_label().startswith(("sgd (", "adam ("))]
    assert len(curves) == 2
    np.testing.assert_allclose(curves[0].get_ydata(), result.losses[("sgd", "quadratic")])



@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"optimizers": ["sgd", "adma"]}, "optimizers[1]: unknown optimizer"),
        ({"functions": ["rosenbrok"]}, "functions: unknown test function (did you mean 'rosenbrock'?)"),
        ({"steps": 0}, "steps: must be an integer >= 1, got 0"),
        ({"learning_rate": 0}, "learning_rate: must be > 0, got 0"),
        ({"tol": -1.0}, "tol: must be > 0, got -1.0"),
        ({"optimizers": ["adam", "adam"]}, "optimizers: must not name the same optimizer twice, got 'adam'"),
    ],
)
def test_race_errors_name_the_argument(kwargs, message):
    with pytest.raises(TrainlabError) as info:
        race(**{"optimizers": ["sgd"], "functions": ["quadratic"], "steps": 3, **kwargs})
    assert str(info.value).startswith(message)


def test_cli_race_prints_the_table_and_writes_the_records(tmp_path, capsys):
    out = tmp_path / "race"
    status = cli.main(["optimizers", "race", "--optimizers", "sgd,adam", "--functions", "quadratic,rosenbrock",
                       "--steps", "25", "--out", str(out)])
    printed = capsys.readouterr().out
    assert status == 0
    assert "steps until loss < 0.001" in printed
    assert "21" in printed and "diverged (step" in printed and "not reached" in printed
    assert printed.rstrip().endswith(f"records: {out.resolve()}")
    assert {p.name for p in out.iterdir()} == {"race.png", "race.json"}
    assert (out / "race.png").stat().st_size > 10_000
    records = json.loads((out / "race.json").read_text())
    assert (records["steps"], records["learning_rate"], len(records["results"])) == (25, 0.1, 4)
    sgd = next(r for r in records["results"] if (r["optimizer"], r["function"]) == ("sgd", "quadratic"))
    assert (sgd["steps_to_tol"], sgd["losses"][0], len(sgd["losses"])) == (21, 8.0, 26)
    rosenbrock = next(r for r in records["results"] if (r["optimizer"], r["function"]) == ("sgd", "rosenbrock"))
    assert rosenbrock["final_loss"] == "nan"  # JSON has no NaN

    # A folder that holds files is refused.
    assert cli.main(["optimizers", "race", "--functions", "quadratic", "--steps", "2", "--out", str(out)]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--optimizers", "sgd,adma"], "--optimizers: unknown optimizer"),
        (["--functions", "quadratic,beal"], "--functions: unknown test function (did you mean 'beale'?)"),
        (["--steps", "0"], "--steps: must be an integer >= 1, got 0"),
        (["--steps", "many"], "--steps: must be an integer, got 'many'"),
        (["--lr", "-0.1"], "--lr: must be > 0, got -0.1"),
        (["--stpes", "3"], "--stpes: unknown option of trainlab optimizers race (did you mean '--steps'?)"),
    ],
)
def test_cli_race_mistakes_are_one_line_and_exit_2(args, expected, tmp_path, capsys):
    status = cli.main(["optimizers", "race", *args, "--out", str(tmp_path / "race")])
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"trainlab: error: {expected}")
    assert not (tmp_path / "race").exists()


def test_cli_unknown_optimizers_command(capsys):
    assert cli.main(["optimizers", "rase"]) == 2
    assert capsys.readouterr().err.strip() == (
        "trainlab: error: optimizers: unknown command (did you mean 'race'?); valid commands: race, got 'rase'"
    )
