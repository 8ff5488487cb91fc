"""report.html of a real tiny run, opened in headless Chromium: it renders, offline, without errors.

Chromium logs the page's console messages to stderr (``INFO:CONSOLE``) and every network
request to a NetLog file; the page's own requests are the ones whose network isolation key
is the ``file://`` page (Chromium's background traffic is keyed otherwise). CI installs
Chromium (``.ci/run``); elsewhere the test is skipped when it is absent.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import trainlab
from trainlab.report import write_report

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs it: see .ci/run)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]


def browse(page: Path, work: Path) -> tuple[str, Path, list[str], list[str]]:
    """Open ``page``: its DOM after loading, a 1280x2000 screenshot, console messages, the page's requests."""
    shot, netlog = work / "shot.png", work / "netlog.json"
    done = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={work / 'profile'}", f"--log-net-log={netlog}", "--dump-dom",
         f"--screenshot={shot}", "--window-size=1280,2000", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=60, check=True,
    )
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, shot, console, page_requests(netlog)


def page_requests(netlog: Path) -> list[str]:
    """URLs the page asked for (not Chromium's own update and time checks)."""
    text = netlog.read_text(encoding="utf-8")
    try:
        log = json.loads(text)
    except json.JSONDecodeError:  # a NetLog cut short still holds whole events before the cut
        log = json.loads(text[:text.rindex("}") + 1] + "]}")
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [event["params"]["url"] for event in log["events"]
            if event["type"] == start_job and "file://" in event["params"].get("network_isolation_key", "")]


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


def test_report_renders_in_chromium_offline_without_errors(tiny_run, tmp_path):
    report = write_report(tiny_run)
    source = report.read_text(encoding="utf-8")
    assert not re.search(r'(?:src|href)\s*=\s*"https?:', source)
    dom, shot, console, requests = browse(report, tmp_path)
    assert console == [] and requests == []
    assert "<h1>browser-check" in dom and '<section id="diagnosis">' in dom
    assert re.search(r"Healthy: the diagnosis found no problems|<div class=\"finding", dom)
    assert len(re.findall(r'<img src="data:image/png;base64,', dom)) >= 3
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int32)
    assert pixels.shape == (2000, 1280, 3)
    colours = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
    assert len(np.unique(colours)) > 1000  # text, tables and figures, not a blank page
    orange = (np.abs(pixels - np.array([255, 127, 14], dtype=np.int32)) < 30).all(axis=-1)  # validation curves
    assert orange.sum() > 200  # the inline figures were decoded and drawn


def test_the_checks_see_console_errors_and_requests(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><title>bad</title><img src="http://127.0.0.1:9/x.png">'
                    '<script>console.error("boom")</script>')
    dom, _, console, requests = browse(page, tmp_path)
    assert "<title>bad</title>" in dom
    assert any('"boom"' in line for line in console)
    assert requests == ["http://127.0.0.1:9/x.png"]
