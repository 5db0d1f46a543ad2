"""The drawing app in a real browser: Voila serves ``python -m ocrlib.app``, headless Chromium draws on it.

Needs the ``playwright`` package and a Chromium (``/usr/bin/chromium``, or ``OCRLIB_CHROMIUM=/path``, or
Playwright's own). Without them the test is skipped, except when ``CI`` is set: then it fails.
A screenshot of a failure is saved in ``tests/artifacts/``.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from ocrlib.preprocess import strokes_to_mnist
from ocrlib.pretrained import load_pretrained
from ocrlib.taught import load_taught

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
SEVEN = [[(60, 50), (220, 50), (110, 240)]]       # a 7: across the top, then down to the left, in one stroke


def missing(reason):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so the browser test must run)")
    pytest.skip(reason)


def chromium_path(playwright):
    candidates = [os.environ.get("OCRLIB_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                  shutil.which("chromium-browser"), shutil.which("google-chrome")]
    for path in candidates:
        if path and Path(path).is_file():
            return path
    bundled = playwright.chromium.executable_path
    if bundled and Path(bundled).is_file():
        return bundled
    missing("no Chromium found: install it (apt-get install chromium) or set OCRLIB_CHROMIUM")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def app(tmp_path):
    """The Voila app on a free port, taught drawings going to tmp_path; stopped (with its kernel) at the end."""
    port = free_port()
    taught = tmp_path / "taught.npz"
    with open(tmp_path / "app.log", "wb") as log:            # the server keeps its own handle on the log
        server = subprocess.Popen([sys.executable, "-m", "ocrlib.app", "--port", str(port), "--no-browser",
                                   "--taught", str(taught)], stdout=log, stderr=subprocess.STDOUT,
                                  cwd=tmp_path, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"the app exited with code {server.returncode}:\n{(tmp_path / 'app.log').read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the app did not answer at {url} within 60 s:\n{(tmp_path / 'app.log').read_text()}")
            time.sleep(0.3)
        yield url, taught
    finally:
        os.killpg(server.pid, signal.SIGTERM)           # the app, Voila and the kernel: one process group
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def draw(page, box, stroke, steps=12):
    """Press the mouse at the first point, move through the others in small steps, release at the last."""
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + stroke[0][0], y0 + stroke[0][1])
    page.mouse.down()
    for (xa, ya), (xb, yb) in pairwise(stroke):
        for t in np.linspace(0, 1, steps + 1)[1:]:
            page.mouse.move(x0 + xa + t * (xb - xa), y0 + ya + t * (yb - ya))
    page.mouse.up()


@pytest.fixture
def sync_api():
    try:
        from playwright import sync_api
    except ImportError:
        missing("the playwright package is not installed (pip install playwright)")
    return sync_api


def test_draw_a_digit_and_teach_it_in_the_browser(sync_api, app):
    url, taught = app
    expected = int(load_pretrained().predict(strokes_to_mnist([np.array(s, float) for s in SEVEN])))

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(playwright), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 900, "height": 760})
        try:
            page.goto(url, timeout=60_000)
            canvas = page.locator("canvas.digitpad-canvas")
            canvas.wait_for(timeout=60_000)
            prediction = page.locator(".digitpad-prediction")
            sync_api.expect(prediction).to_contain_text("blank", timeout=30_000)

            for stroke in SEVEN:
                draw(page, canvas.bounding_box(), stroke)
            sync_api.expect(prediction).to_have_text(str(expected), timeout=15_000)

            page.get_by_role("button", name=f"This is a {expected}", exact=True).click()
            sync_api.expect(page.locator(".digitpad-taught")).to_have_text("Drawings taught: 1", timeout=15_000)
            sync_api.expect(page.locator(".digitpad-status")).to_contain_text(f"Taught a {expected}")
            X, y = load_taught(taught)
            assert y.tolist() == [expected] and X.shape == (1, 28, 28) and X.max() > 200

            page.get_by_role("button", name="Clear").click()
            sync_api.expect(prediction).to_contain_text("blank", timeout=15_000)
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "test_browser_failure.png"))
            raise
        finally:
            browser.close()
