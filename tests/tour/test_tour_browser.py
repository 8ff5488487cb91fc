"""The quick tour's report.html in headless Chromium: it renders offline, without console errors or requests.

The same checks as tests/report/test_report_browser.py, through the ``chromium`` fixture of
tests/conftest.py; skipped where Chromium is not installed (CI installs it: see .ci/run).
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def test_the_tour_report_renders_in_chromium_offline(chromium, quick_tour):
    page = chromium(quick_tour["out"] / "report.html", height=3000, timeout=120)
    assert page.console == []
    assert page.requests == []
    assert "The tutorial, replayed by trainlab" in page.dom and '<section id="s11"' in page.dom
    pixels = np.asarray(Image.open(page.screenshot).convert("RGB"), dtype=np.int32)
    assert pixels.shape == (3000, 1280, 3)
    colours = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
    assert len(np.unique(colours)) > 1000  # text, tables and the first figures, not a blank page
