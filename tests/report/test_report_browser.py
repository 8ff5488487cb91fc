"""report.html of a real tiny run, opened in headless Chromium: it renders, offline, without errors.

The ``chromium`` fixture (tests/conftest.py) opens the page and reads what it logged to the console
and what it asked the network for; the test is skipped where Chromium is not installed (CI installs
it: see .ci/run).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

import trainlab
from trainlab.report import write_report


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    recipe = {
        "name": "browser-check", "seed": 7,
        "data": {"source": "synthetic_classification", "n_samples": 200, "n_features": 8},
        "model": {"hidden": [16, 8], "dropout": [0.1, 0.0]},
        "training": {"epochs": 4, "batch_size": 32, "verbose": 0, "tensorboard": False},
    }
    run = trainlab.train(recipe, out=tmp_path_factory.mktemp("report") / "run")
    return run.dir


def test_report_renders_in_chromium_offline_without_errors(chromium, tiny_run):
    report = write_report(tiny_run)
    source = report.read_text(encoding="utf-8")
    assert not re.search(r'(?:src|href)\s*=\s*"https?:', source)
    page = chromium(report)
    assert page.console == [] and page.requests == []
    assert "<h1>browser-check" in page.dom and '<section id="diagnosis">' in page.dom
    assert re.search(r"Healthy: the diagnosis found no problems|<div class=\"finding", page.dom)
    assert len(re.findall(r'<img src="data:image/png;base64,', page.dom)) >= 3
    pixels = np.asarray(Image.open(page.screenshot).convert("RGB"), dtype=np.int32)
    assert pixels.shape == (2000, 1280, 3)
    colours = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
    assert len(np.unique(colours)) > 1000  # text, tables and figures, not a blank page
    orange = (np.abs(pixels - np.array([255, 127, 14], dtype=np.int32)) < 30).all(axis=-1)  # validation curves
    assert orange.sum() > 200  # the inline figures were decoded and drawn


def test_the_checks_see_console_errors_and_requests(chromium, tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><title>bad</title><img src="http://127.0.0.1:9/x.png">'
                   '<script>console.error("boom")</script>')
    page = chromium(bad)
    assert "<title>bad</title>" in page.dom
    assert any('"boom"' in line for line in page.console)
    assert page.requests == ["http://127.0.0.1:9/x.png"]
