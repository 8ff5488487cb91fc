"""The live progress display: the epoch bar, the metrics under it, and silence when asked."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from trainlab.callbacks import ProgressDisplay, display_order, format_logs

LOGS = {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.6, "val_accuracy": 0.7, "train_eval_loss": 0.45,
        "train_eval_accuracy": 0.82, "lr": 1e-3, "grad_norm": 0.57, "grad_norm_max": 0.9}
SHOWN = "loss 0.5000  val_loss 0.6000  accuracy 0.8000  val_accuracy 0.7000  lr 1.00e-03  grad_norm 0.5700"


def run_display(verbose: int, terminal: bool, epochs: int = 3, width: int = 80) -> str:
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=width, color_system=None)
    display = ProgressDisplay(verbose, console=console)
    display.set_params({"epochs": epochs})
    display.on_train_begin()
    for epoch in range(epochs):
        display.on_epoch_end(epoch, dict(LOGS))
    display.on_train_end()
    return out.getvalue()


def test_format_logs_shows_loss_validation_lr_and_gradient_norm():
    assert format_logs(LOGS) == SHOWN


def test_display_order_puts_each_metric_beside_its_twins():
    assert display_order(list(LOGS)) == ["loss", "train_eval_loss", "val_loss", "accuracy", "train_eval_accuracy",
                                         "val_accuracy", "lr", "grad_norm", "grad_norm_max"]


@pytest.mark.parametrize("width", [80, 200])
def test_terminal_bar_shows_every_metric_on_the_line_below(width):
    out = run_display(1, terminal=True, width=width)
    final = out.rsplit("\x1b[2K", 1)[-1]  # the last redraw of the live display
    bar, *metrics = [line for line in final.splitlines() if line.strip() and "\x1b[?25" not in line]
    assert bar.startswith("epoch 3/3 ")
    assert " ".join(" ".join(metrics).split()) == " ".join(SHOWN.split())  # wrapped on a narrow terminal, never cut
    assert all(len(line) <= width for line in metrics)


def test_in_a_log_one_line_per_tenth_of_the_run():
    lines = run_display(1, terminal=False, epochs=20).splitlines()
    assert [line.split("  ")[0] for line in lines] == [f"epoch {e}/20" for e in (1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20)]
    assert lines[-1] == f"epoch 20/20  {SHOWN}"


def test_verbose_2_prints_every_epoch():
    assert len(run_display(2, terminal=True, epochs=4).splitlines()) == 4


@pytest.mark.parametrize("terminal", [True, False])
def test_quiet_is_silent(terminal):
    assert run_display(0, terminal=terminal) == ""
