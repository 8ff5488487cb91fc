"""The quick tour's report.html in headless Chromium: it renders offline, without console errors or requests.

The same checks as tests/report/test_report_browser.py (the flags, the NetLog of the page's own
requests); skipped where Chromium is not installed (CI installs it: see .ci/run).
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs it: see .ci/run)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]


def test_the_tour_report_renders_in_chromium_offline(quick_tour, tmp_path):
    page = quick_tour["out"] / "report.html"
    shot, netlog = tmp_path / "shot.png", tmp_path / "netlog.json"
    done = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--log-net-log={netlog}", "--dump-dom",
         f"--screenshot={shot}", "--window-size=1280,3000", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    )
    assert [line for line in done.stderr.splitlines() if ":CONSOLE" in line] == []
    assert _page_requests(netlog) == []
    dom = done.stdout
    assert "The tutorial, replayed by trainlab" in dom and '<section id="s11"' in dom
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int32)
    assert pixels.shape == (3000, 1280, 3)
    colours = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
    assert len(np.unique(colours)) > 1000  # text, tables and the first figures, not a blank page


def _page_requests(netlog) -> list[str]:
    text = netlog.read_text(encoding="utf-8")
    try:
        log = json.loads(text)
    except json.JSONDecodeError:  # a NetLog cut short still holds whole events before the cut
        log = json.loads(text[:text.rindex("}") + 1] + "]}")
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [event["params"]["url"] for event in log["events"]
            if event["type"] == start_job and "file://" in event["params"].get("network_isolation_key", "")]
