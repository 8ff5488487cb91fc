"""The tour's parts without training: the report page, the report worker, MNIST for section 8."""

from __future__ import annotations

import re

import numpy as np
import pytest

from trainlab.tour import Compared, Section, Table, Tour, load_tour
from trainlab.tour import report
from trainlab.tour.section import Figure
from trainlab.tour.workers import render


def test_the_page_escapes_everything_and_loads_nothing(tmp_path):
    bad = '<script>alert("x")</script>'
    section = Section(1, f"Loss {bad}", line=bad, story=bad, compared=[Compared(bad, bad, bad, "fixed", bad)],
                      tables=[Table([bad], [[bad]], bad)], notes=[bad], links=[(bad, "a b/c.html")],
                      figures=[Figure(bad, b"\x89PNG not really", bad), Figure("missing", path=tmp_path / "no.png")],
                      findings=[{"rule": bad, "severity": "warning", "message": bad, "advice": bad,
                                 "evidence": {bad: bad}}], seconds=1.5)
    failed = Section(2, "Optimizers compared", error=f"RuntimeError: {bad}", line="FAILED")
    page = report.render(Tour(tmp_path, tmp_path / "report.html", [section, failed], 12.0, True),
                          {"trainlab": "0", "tensorflow": "0", "keras": "0"})
    assert "<script" not in page and "&lt;script&gt;" in page
    assert 'href="a%20b/c.html"' in page
    assert "the figure was not drawn" in page and "1 failed" in page
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) == 1
    assert "Content-Security-Policy" in page


def test_the_worker_reports_a_failed_job_in_errors_txt(tmp_path):
    renderer = render.Renderer(tmp_path / "errors.txt")
    renderer.run(tmp_path / "not-a-run")
    renderer.wait()
    text = (tmp_path / "errors.txt").read_text()
    assert "run report of" in text and "is not a run directory" in text


def test_waiting_sends_a_job_left_queued_instead_of_waiting_forever(tmp_path):
    # The tour's loop can stop (an error, Ctrl-C) after a job was queued and before it went to the worker;
    # wait() then waited for a worker that had nothing to do.
    renderer = render.Renderer(tmp_path / "errors.txt")
    renderer.start()
    renderer.pending.append(("run", str(tmp_path / "not-a-run")))
    renderer.wait()
    assert not renderer.pending and "is not a run directory" in (tmp_path / "errors.txt").read_text()


@pytest.fixture
def tiny_mnist(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=rng.integers(0, 256, (300, 28, 28), dtype=np.uint8), y_train=np.arange(300) % 10,
             x_test=rng.integers(0, 256, (50, 28, 28), dtype=np.uint8), y_test=np.arange(50) % 10)
    return path


def test_section_8_trains_on_a_local_mnist_file(tiny_mnist, tmp_path, monkeypatch):
    from trainlab import tour

    # Not drawing the two run reports halves the test; they are the same pages as the quick tour's, checked there.
    monkeypatch.setattr(render, "draw", lambda kind, folder: None)
    result = tour(out=tmp_path / "t", only=[8], quick=True, mnist=tiny_mnist, echo=lambda line: None)
    section = result.section(8)
    assert section.error is None, (result.dir / "errors.txt").read_text()
    assert section.values["source"] == "MNIST (local mnist.npz)"
    summary = load_tour(result.dir)["sections"][0]
    assert summary["values"]["scale_is_power_of_half"] is True
    recipe = (result.dir / "08-callbacks" / "recipe.yaml").read_text()
    assert "source: mnist" in recipe and "n_train: 300" in recipe and "n_test: 50" in recipe  # all a small file has


def test_the_lanes_hand_out_every_section_once_the_longest_first():
    from trainlab.tour.sections import SECTIONS
    from trainlab.tour.workers.lanes import LANE_ORDER

    assert sorted(LANE_ORDER) == sorted(SECTIONS)
    assert LANE_ORDER[0] == 6  # 20 models: started first, it runs alone in one lane


@pytest.mark.parametrize("fork", [True, False])
def test_a_lane_that_dies_fails_its_section_and_the_other_lane_goes_on(fork, tmp_path):
    import os
    import signal
    import time

    from trainlab.tour.section import Context, find_examples
    from trainlab.tour.workers.lanes import Lanes

    renderer = render.Renderer(tmp_path / "errors.txt")  # its worker never started: nothing to hear from it
    lanes = Lanes(Context(tmp_path, True, find_examples(), None), workers=2, threads=1, fork=fork)
    try:
        deadline = time.monotonic() + 120
        while any(lane.pid is None for lane in lanes.lanes) and time.monotonic() < deadline:
            assert lanes.wait(1.0, renderer) == []
        first, second = lanes.lanes
        assert first.pid != second.pid and None not in (first.pid, second.pid)
        parents = []
        for lane in lanes.lanes:  # both forked from the one worker process that imported TensorFlow, or processes
            with open(f"/proc/{lane.pid}/stat") as f:  # of their own
                parents.append(int(f.read().rsplit(")", 1)[1].split()[1]))
        assert parents == ([lanes.processes[0].pid] * 2 if fork else [os.getpid()] * 2)
        second.send(1)
        os.kill(second.pid, signal.SIGKILL)
        first.draw("run", str(tmp_path / "not-a-run"))  # an idle lane draws a report the renderer would
        delivered = {}
        while first.drawing is not None and time.monotonic() < deadline:
            delivered.update((d.section.number, d.section) for d in lanes.wait(1.0, renderer))
        first.send(11)
        while len(delivered) < 2 and time.monotonic() < deadline:
            delivered.update((d.section.number, d.section) for d in lanes.wait(1.0, renderer))
        assert delivered[1].error.startswith(f"the worker process running it (pid {second.pid}) ended")
        assert delivered[11].error is None and delivered[11].values
        assert not second.alive and first.alive
        assert "run report of" in (tmp_path / "errors.txt").read_text()  # the lane's drawing failed as the worker's
    finally:
        lanes.close()
