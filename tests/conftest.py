"""Shared test set-up: quiet TensorFlow, tiny recipes, pages opened in headless Chromium."""

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# oneDNN's custom operations: forced on for this run unless TRAINLAB_TEST_ONEDNN says otherwise (see tests/onednn.py).
os.environ["TF_ENABLE_ONEDNN_OPTS"] = os.environ.get("TRAINLAB_TEST_ONEDNN", "1")

import pytest  # noqa: E402
from onednn import NUMERICS  # noqa: E402  (tests/ is on the path: pytest put it there for this file)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.startswith(NUMERICS):
            item.add_marker(pytest.mark.numerics)


@pytest.fixture
def tiny_recipe():
    """A recipe that trains in well under a second: 200 samples, 8 features, 5 epochs."""
    return {
        "name": "tiny",
        "seed": 7,
        "data": {"source": "synthetic_classification", "n_samples": 200, "n_features": 8},
        "model": {"hidden": [16, 8], "dropout": [0.1, 0.0]},
        "training": {"epochs": 5, "batch_size": 32, "verbose": 0, "tensorboard": False},
    }


@dataclass
class Browsed:
    """A page as headless Chromium showed it: the DOM after loading, a screenshot, what it logged and asked for."""

    dom: str
    screenshot: Path
    console: list[str]
    requests: list[str]


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    """``chromium(page, height=2000)``: open a page in headless Chromium (offline checks of the HTML reports).

    Chromium logs the page's console messages to stderr (``INFO:CONSOLE``) and every network request
    to a NetLog file; the page's own requests are the ones whose network isolation key is the
    ``file://`` page (Chromium's background traffic is keyed otherwise). Each call gets a fresh profile
    and folder. Skips the test where Chromium is not installed (CI installs it: see .ci/run); session
    scoped, so that it skips before any costly fixture the test also asks for.
    """
    binary = shutil.which("chromium")
    if binary is None:
        pytest.skip("chromium is not installed (CI installs it: see .ci/run)")

    def browse(page: Path, height: int = 2000, timeout: float = 60) -> Browsed:
        work = tmp_path_factory.mktemp("chromium")
        shot, netlog = work / "shot.png", work / "netlog.json"
        done = subprocess.run(
            [binary, *_CHROMIUM_FLAGS, f"--user-data-dir={work / 'profile'}", f"--log-net-log={netlog}",
             "--dump-dom", f"--screenshot={shot}", f"--window-size=1280,{height}", Path(page).resolve().as_uri()],
            capture_output=True, text=True, timeout=timeout, check=True,
        )
        console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
        return Browsed(done.stdout, shot, console, _page_requests(netlog))

    return browse


_CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   "--enable-logging=stderr", "--v=0"]


def _page_requests(netlog: Path) -> list[str]:
    """URLs the page asked for (not Chromium's own update and time checks)."""
    text = netlog.read_text(encoding="utf-8")
    try:
        log = json.loads(text)
    except json.JSONDecodeError:  # a NetLog cut short still holds whole events before the cut
        log = json.loads(text[:text.rindex("}") + 1] + "]}")
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [event["params"]["url"] for event in log["events"]
            if event["type"] == start_job and "file://" in event["params"].get("network_isolation_key", "")]
