"""The drawing app in a real browser: Voila serves ``python -m ocrlib.app``, headless Chromium uses it.

At a phone's size held both ways, a laptop's and a projector's, with the mouse and with touch; with the
keyboard alone; page after page, counting the kernels left running; and with its kernel killed. Every request
every page makes is logged, and all must go to the server that serves the page.

Needs the ``playwright`` package and a Chromium (``/usr/bin/chromium``, or ``OCRLIB_CHROMIUM=/path``, or
Playwright's own). Without them the tests are skipped, except when ``CI`` is set: then they fail.
A screenshot of each size is saved in ``tests/artifacts/`` (and in ``docs/`` with ``OCRLIB_DOCS_SCREENSHOTS=1``).
"""

import contextlib
import json
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
from urllib.parse import urlsplit

import numpy as np
import psutil
import pytest

from ocrlib.preprocess import strokes_to_mnist
from ocrlib.pretrained import load_pretrained
from ocrlib.taught import load_taught

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
SEVEN = [(60, 50), (220, 50), (110, 240)]         # a 7 in the pad's 280 x 280 space: across the top, then down
SIZES = {"phone": (390, 844), "phone-landscape": (844, 390), "laptop": (1366, 768), "projector": (1920, 1080)}
CONTROLS = ["Clear", "Undo stroke", *map(str, range(10)), "Teach it", "Undo teach", "Save model",
            "Reset to pretrained", "Presentation mode"]          # every control, in the order Tab must reach them


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


@pytest.fixture(scope="module")
def sync_api():
    try:
        from playwright import sync_api
    except ImportError:
        missing("the playwright package is not installed (pip install playwright)")
    return sync_api


@contextlib.contextmanager
def served(command, folder, url, probe):
    """Run ``command`` (a server) in ``folder``, in a process group of its own; wait until ``url + probe``
    answers; at the end stop it and everything it started."""
    log_path = folder / "server.log"
    with open(log_path, "wb") as log:                   # the server keeps its own handle on the log
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=folder, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"{command[2]} exited with code {server.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(url + probe, timeout=5):
                    break
            except urllib.error.HTTPError:              # any answer: the server is up
                break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{command[2]} did not answer at {url} within 60 s:\n{log_path.read_text()}")
            time.sleep(0.3)
        yield server
    finally:
        os.killpg(server.pid, signal.SIGTERM)           # the server and its kernels: one process group
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The Voila app on a free port, taught drawings going to a temporary folder; stopped (with its kernels)
    at the end. Yields ``(url, taught path, the server's process)``."""
    folder = tmp_path_factory.mktemp("app")
    port = free_port()
    taught = folder / "taught.sqlite"
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "ocrlib.app", "--port", str(port), "--no-browser", "--taught", str(taught)]
    with served(command, folder, url, "voila/static/") as server:
        yield url, taught, psutil.Process(server.pid)


@pytest.fixture(scope="module")
def browser(sync_api):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(playwright), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def kernels(server):
    """The kernel processes the app's server runs now."""
    alive = []
    for process in server.children(recursive=True):
        try:
            if "ipykernel_launcher" in " ".join(process.cmdline()):
                alive.append(process)
        except psutil.NoSuchProcess:
            pass
    return alive


def open_pad(context, url, requests, wait=True):
    """A new page on the app; every request it makes is appended to ``requests``."""
    page = context.new_page()
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url, timeout=60_000, wait_until="commit")
    if wait:
        page.locator("canvas.digitpad-canvas").wait_for(timeout=60_000)
    return page


def close_pad(page):
    """Leave the page, as closing its tab does (the page then shuts its kernel down), and close it."""
    page.goto("about:blank")
    page.close()


def frames_sent(page):
    """A list that grows by one for every message the page sends its kernel (a websocket frame)."""
    sent = []
    page.on("websocket", lambda socket: socket.on("framesent", lambda frame: sent.append(frame)))
    return sent


def hover_then_draw(page, canvas, sent):
    """Move the mouse over the pad with no button pressed, then draw a 7: (frames sent while hovering,
    frames sent while drawing). The moves come 30 ms apart, slower than the app's 20 ms limit on moves."""
    box = canvas.bounding_box()
    point = lambda x, y: (box["x"] + x * box["width"] / 280, box["y"] + y * box["height"] / 280)
    page.mouse.move(*point(140, 140))
    time.sleep(1.0)
    before = len(sent)
    for k in range(20):
        page.mouse.move(*point(40 + 10 * k, 100 + 4 * k))
        time.sleep(0.03)
    time.sleep(0.5)
    hovering = len(sent) - before
    page.mouse.move(*point(*SEVEN[0]))
    page.mouse.down()
    for x, y in SEVEN[1:]:
        page.mouse.move(*point(x, y), steps=8)
        time.sleep(0.03)
    page.mouse.up()
    time.sleep(0.5)
    return hovering, len(sent) - before - hovering


def foreign(requests, url):
    """Requests to any host but the one serving ``url`` (data: and blob: URLs go to no host)."""
    host = urlsplit(url).netloc
    return [r for r in requests if urlsplit(r).scheme not in ("data", "blob") and urlsplit(r).netloc != host]


def stroke_on_screen(page, stroke, steps=12):
    """The stroke's points, given in the pad's 280 x 280 space, on the screen (the canvas may be scaled)."""
    canvas = page.locator("canvas.digitpad-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    scale = box["width"] / 280
    points = [stroke[0]]
    for (xa, ya), (xb, yb) in pairwise(stroke):
        points += [(xa + t * (xb - xa), ya + t * (yb - ya)) for t in np.linspace(0, 1, steps + 1)[1:]]
    return [(box["x"] + x * scale, box["y"] + y * scale) for x, y in points]


def draw_with_mouse(page, stroke):
    points = stroke_on_screen(page, stroke)
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point)
    page.mouse.up()


def draw_with_touch(page, stroke):
    """One finger, down at the first point, moved through the others, lifted (Chrome's own touch events)."""
    points = stroke_on_screen(page, stroke)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]})
    for x, y in points[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > width) problems.push(`page ${document.documentElement.scrollWidth}px wide`);
  const controls = document.querySelectorAll(
    ".digitpad button, .digitpad .widget-label, .digitpad .widget-html-content, .digitpad .widget-html-content *, " +
    ".digitpad canvas");
  for (const el of controls) {
    if (!el.offsetParent || el.closest(".digitpad-announce")) continue;          // hidden, or for screen readers
    const box = el.getBoundingClientRect();
    const text = (el.innerText || el.className).slice(0, 40);
    if (box.left < -0.5 || box.right > width + 0.5) problems.push(`off screen: ${text} (${box.left}-${box.right})`);
    if (el.scrollWidth > el.clientWidth + 1) problems.push(`cut: ${text} (${el.scrollWidth} > ${el.clientWidth})`);
  }
  return problems;
}"""


def tab_through(page):
    """From the first control (Clear), press Tab through all the others; the controls reached, in order.

    They must be exactly the pad's enabled buttons on show in the order they appear, and never a canvas."""
    enabled = page.evaluate("[...document.querySelectorAll('.digitpad button:not(:disabled)')]"
                            ".filter(b => b.offsetParent !== null).map(b => b.innerText.trim())")
    page.locator(".digitpad-clear").focus()
    reached = [page.evaluate("document.activeElement.innerText.trim()")]
    for _ in enabled[1:]:
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.tagName === 'CANVAS' ? 'CANVAS' : "
                                     "document.activeElement.innerText.trim()"))
    assert reached == enabled, f"{reached} != {enabled}"
    return reached


def seven(shift=0):
    """The 7 moved ``shift`` px right (the pad teaches a drawing only once: each test draws its own), and the
    digit the shipped model reads in it."""
    stroke = [(x + shift, y) for x, y in SEVEN]
    return stroke, int(load_pretrained().predict(strokes_to_mnist([np.array(stroke, float)])))


def screenshot(page, name, top=True):
    """What the screen shows (from the top of the page unless ``top=False``), in tests/artifacts/ (and docs/)."""
    if top:
        page.evaluate("document.getElementById('rendered_cells').scrollTop = 0")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))
    if os.environ.get("OCRLIB_DOCS_SCREENSHOTS"):
        page.screenshot(path=str(ROOT / "docs" / name))


def fail_with_screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-failure.png"), full_page=True)


@pytest.mark.parametrize("size", SIZES)
def test_every_size_with_mouse_and_touch(sync_api, app, browser, size):
    url, taught, _ = app
    width, height = SIZES[size]
    phone = width < 1000
    context = browser.new_context(viewport={"width": width, "height": height}, has_touch=True, is_mobile=phone)
    requests = []
    page = open_pad(context, url, requests)
    expect = sync_api.expect
    stroke, digit = seven(shift=4 * list(SIZES).index(size))
    prediction = page.locator(".digitpad-prediction")
    try:
        expect(prediction).to_contain_text("blank", timeout=30_000)
        assert page.evaluate(LAYOUT_PROBLEMS) == []

        draw_with_mouse(page, stroke)
        expect(prediction).to_have_text(str(digit), timeout=15_000)
        page.locator(".digitpad-clear").click()
        expect(prediction).to_contain_text("blank", timeout=15_000)
        draw_with_touch(page, stroke)                   # the scaled canvas reads the same 7 from a finger
        expect(prediction).to_have_text(str(digit), timeout=15_000)

        count = len(load_taught(taught)[1])
        page.locator(".digitpad-labels button", has_text=str(digit)).tap()
        page.locator(".digitpad-teach-button").tap()
        expect(page.locator(".digitpad-taught")).to_have_text(f"Taught drawings (all pads): {count + 1}",
                                                              timeout=15_000)
        expect(page.locator(".digitpad-status")).to_contain_text(f"p({digit}) on your drawing")

        assert page.evaluate(LAYOUT_PROBLEMS) == []
        canvas, reading = (page.locator(sel).bounding_box() for sel in (".digitpad-canvas", ".digitpad-reading"))
        if size == "phone":                             # the pad as wide as the screen, the reading under it
            assert canvas["width"] >= 0.9 * width and reading["y"] >= canvas["y"] + canvas["height"]
        elif size == "phone-landscape":                 # the whole pad on screen, the reading beside it
            assert canvas["y"] + canvas["height"] <= height and reading["x"] >= canvas["x"] + canvas["width"]
        else:                                           # larger screens: a larger pad
            assert canvas["width"] >= (320 if size == "laptop" else 560)
        jump = page.locator(".digitpad-jump")           # "Wrong? Teach it": only where teaching is off screen
        if size == "phone-landscape":
            page.evaluate("document.getElementById('rendered_cells').scrollTop = 0")
            expect(jump).to_be_in_viewport()
            jump.tap()
            page.wait_for_function("(() => { const box = document.querySelector('.digitpad-teach-box')"
                                   ".getBoundingClientRect(); return box.top >= 0 && box.top < innerHeight; })()",
                                   timeout=15_000)
        else:
            expect(jump).to_be_hidden()

        screenshot(page, "digit_pad_app.png" if size == "laptop" else f"digit_pad_app_{width}x{height}.png")
        if size == "phone":                             # and further down: teaching
            page.locator(".digitpad-status").scroll_into_view_if_needed()
            screenshot(page, f"digit_pad_app_{width}x{height}_teach.png", top=False)
        if size in ("laptop", "projector"):             # presentation mode: larger still, and still no overflow
            page.locator(".digitpad-present-toggle").click()
            expect(page.locator(".digitpad.digitpad-present")).to_have_count(1, timeout=15_000)
            assert page.evaluate(LAYOUT_PROBLEMS) == []
            share = 0.7 if size == "projector" else 0.6
            assert page.locator(".digitpad-canvas").bounding_box()["width"] >= share * height
            page.evaluate("document.getElementById('rendered_cells').scrollTop = 0")
            for part in (".digitpad-clear", ".digitpad-bar-row >> nth=9"):      # pad and all ten bars on one screen
                box = page.locator(part).bounding_box()
                assert box["y"] + box["height"] <= height, f"{part} ends at {box['y'] + box['height']:.0f} px"
            screenshot(page, f"digit_pad_app_{width}x{height}_presentation.png")
        assert foreign(requests, url) == [] and len(requests) > 20
    except BaseException:
        fail_with_screenshot(page, f"test_browser-{size}")
        raise
    finally:
        close_pad(page)
        context.close()


PAINTED = """(canvas) => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let orange = 0, blue = 0;
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
    if (r > g && g > b && r - b > 60) orange++;                  // towards #e69f00 from white
    if (b > r + 60 && b > g) blue++;                             // towards #0072b2 from white
  }
  return [orange, blue];
}"""


@pytest.mark.parametrize("size", SIZES)
def test_why_at_every_size(sync_api, app, browser, size):
    """"Why?" on: a drawing is explained at pen-up, in maps painted orange and blue, with nothing off screen."""
    url, _, _ = app
    width, height = SIZES[size]
    phone = width < 1000
    context = browser.new_context(viewport={"width": width, "height": height}, has_touch=True, is_mobile=phone)
    page = open_pad(context, url, [])
    expect = sync_api.expect
    stroke, digit = seven(shift=2 + 4 * list(SIZES).index(size))
    try:
        expect(page.locator(".digitpad-prediction")).to_contain_text("blank", timeout=30_000)
        toggle = page.locator(".digitpad-why-toggle")
        toggle.tap() if phone else toggle.click()
        why = page.locator(".digitpad-why")
        expect(why).to_be_visible(timeout=15_000)
        expect(why).to_contain_text("at pen-up", timeout=15_000)
        (draw_with_touch if phone else draw_with_mouse)(page, stroke)
        captions = page.locator(".digitpad-why-figure")
        expect(captions.nth(0)).to_contain_text(f"Why {digit}", timeout=15_000)
        expect(captions.nth(2)).to_contain_text("make it a", timeout=15_000)
        expect(why).to_contain_text(f"raised {digit} most", timeout=15_000)
        maps = page.locator("canvas.digitpad-why-map")
        deadline = time.monotonic() + 15                # the pictures arrive just after the words
        while sum(maps.nth(0).evaluate(PAINTED)) == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        orange, blue = maps.nth(0).evaluate(PAINTED)
        assert orange > 50 and blue + orange > 100, (orange, blue)
        assert sum(maps.nth(2).evaluate(PAINTED)) > 20                  # the change: ink added or removed
        for i in range(3):
            box = maps.nth(i).bounding_box()
            assert box["width"] >= (90 if phone else 110), box
        assert page.evaluate(LAYOUT_PROBLEMS) == []
        why.scroll_into_view_if_needed()
        screenshot(page, f"digit_pad_app_{width}x{height}_why.png", top=False)
        toggle.tap() if phone else toggle.click()
        expect(why).to_be_hidden(timeout=15_000)
    except BaseException:
        fail_with_screenshot(page, f"test_browser-why-{size}")
        raise
    finally:
        close_pad(page)
        context.close()


def test_keyboard_only(sync_api, app, browser):
    url, taught, _ = app
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    requests = []
    page = open_pad(context, url, requests)
    expect = sync_api.expect
    try:
        canvas = page.locator("canvas.digitpad-canvas")
        expect(canvas).to_have_attribute("aria-label", "Drawing pad: draw one digit here with a mouse, a finger "
                                         "or a pen", timeout=15_000)
        announce = page.locator(".digitpad-announce")
        expect(announce).to_have_attribute("aria-live", "polite")
        expect(announce).to_have_text("The pad is blank.", timeout=15_000)

        reached = tab_through(page)                     # a blank pad: Teach it and Undo teach are off
        stroke, digit = seven(shift=20)
        draw_with_mouse(page, stroke)                   # drawing needs a pointer; all the rest is keys
        expect(announce).to_contain_text(f"It reads {digit}", timeout=15_000)
        page.keyboard.press("Tab")                      # the canvas had the pen: Tab still leaves it
        assert page.evaluate("document.activeElement.tagName") != "CANVAS"

        count = len(load_taught(taught)[1])
        page.keyboard.press("Control+Enter")            # no digit chosen: teaches nothing
        page.keyboard.press(str(digit))
        expect(page.locator(".digitpad-teach-button")).to_have_text(f"Teach it: this is a {digit}")
        chosen = page.locator(".digitpad-labels button", has_text=str(digit))
        expect(chosen).to_have_attribute("aria-pressed", "true", timeout=15_000)     # screen readers hear it
        reached += tab_through(page)                    # now Teach it is on
        page.keyboard.press("Control+Enter")
        taught_label = page.locator(".digitpad-taught")
        expect(taught_label).to_have_text(f"Taught drawings (all pads): {count + 1}", timeout=15_000)
        reached += tab_through(page)                    # now Undo teach is on
        assert set(CONTROLS) <= {"Teach it" if r.startswith("Teach it") else r for r in reached}
        page.locator(".digitpad-undo-teach").focus()
        page.keyboard.press("Enter")
        expect(taught_label).to_have_text(f"Taught drawings (all pads): {count}", timeout=15_000)
        assert len(load_taught(taught)[1]) == count
        # Undo teach switched itself off: the focus moved on to the next button, not back to the page
        expect(page.locator(".digitpad-undo-teach")).to_be_disabled()
        page.wait_for_function("document.activeElement && document.activeElement.tagName === 'BUTTON' && "
                               "!document.activeElement.disabled", timeout=15_000)

        page.keyboard.press(str(digit))                 # a digit chosen, then the pad cleared: the choice goes too
        expect(chosen).to_have_attribute("aria-pressed", "true", timeout=15_000)
        page.keyboard.press("Escape")
        expect(page.locator(".digitpad-teach-button")).to_have_text("Teach it", timeout=15_000)
        expect(chosen).to_have_attribute("aria-pressed", "false", timeout=15_000)

        page.keyboard.press("Backspace")                # undo the one stroke
        expect(announce).to_have_text("The pad is blank.", timeout=15_000)
        draw_with_mouse(page, stroke)
        expect(announce).to_contain_text(f"It reads {digit}", timeout=15_000)
        page.keyboard.press("Escape")                   # clear
        expect(announce).to_have_text("The pad is blank.", timeout=15_000)

        page.locator(".digitpad-save").focus()
        page.keyboard.press("Enter")
        expect(page.locator(".digitpad-download a")).to_have_attribute("download", "my_model-1.npz", timeout=15_000)
        assert (taught.parent / "my_model-1.npz").is_file()
        page.locator(".digitpad-present-toggle").focus()
        page.keyboard.press("Space")
        expect(page.locator(".digitpad.digitpad-present")).to_have_count(1, timeout=15_000)
        assert foreign(requests, url) == []
    except BaseException:
        fail_with_screenshot(page, "test_browser-keyboard")
        raise
    finally:
        close_pad(page)
        context.close()


def test_closed_pages_leave_no_kernel_running(app, browser):
    """20 pages opened and closed, two at a time: each closed page shuts its kernel down."""
    url, _, server = app
    before = set(kernels(server))                       # pages of other tests still shutting down
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    requests = []
    for _ in range(10):
        pages = [open_pad(context, url, requests, wait=False) for _ in range(2)]
        for page in pages:                              # kernels start side by side on two cores: allow time
            page.locator("canvas.digitpad-canvas").wait_for(timeout=120_000)
        for page in pages:
            close_pad(page)
    deadline = time.monotonic() + 15                    # the browser stays open, as when a tab is closed
    while set(kernels(server)) - before and time.monotonic() < deadline:
        time.sleep(0.5)
    context.close()
    assert set(kernels(server)) - before == set()
    assert foreign(requests, url) == []


def test_a_dead_kernel_says_connection_lost(sync_api, app, browser):
    url, _, server = app
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = open_pad(context, url, [])
    try:
        kernel_id = page.evaluate("JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId")
        before = set(kernels(server))
        [kernel] = [k for k in before if kernel_id in " ".join(k.cmdline())]
        kernel.kill()
        lost = page.locator(".digitpad-lost")
        sync_api.expect(lost).to_contain_text("Connection lost", timeout=20_000)
        sync_api.expect(lost.get_by_role("button", name="Reload")).to_be_focused()
        screenshot(page, "digit_pad_app_connection_lost.png")
        deadline = time.monotonic() + 15                # the kernel restarted without the pad is shut down too
        while set(kernels(server)) - before and time.monotonic() < deadline:
            time.sleep(0.5)
        assert set(kernels(server)) - before == set()
    except BaseException:
        fail_with_screenshot(page, "test_browser-lost")
        raise
    finally:
        page.close()
        context.close()


def test_in_jupyterlab_the_keyboard_is_never_stuck_on_the_pad(sync_api, browser, tmp_path):
    """In a notebook in JupyterLab, as on the app's page: Tab never stops on a canvas, and leaves one that a
    click focused (ipycanvas's canvas keeps every key, Tab too); every canvas is named for screen readers;
    a mouse passing over the pad sends the kernel nothing."""
    code = f"from ocrlib.widget import DigitPad\nDigitPad(taught_path={str(tmp_path / 'taught.sqlite')!r})"
    notebook = {"cells": [{"cell_type": "code", "id": "pad", "metadata": {}, "execution_count": None,
                           "outputs": [], "source": code}],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "pad.ipynb").write_text(json.dumps(notebook))
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}",
               "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={tmp_path}",
               f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}"]
    with served(command, tmp_path, url, "api/status"):
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        page = context.new_page()
        sent = frames_sent(page)
        try:
            page.goto(url + "lab/tree/pad.ipynb", timeout=60_000)
            page.locator("#jp-main-statusbar").get_by_text("Idle").wait_for(timeout=60_000)   # the kernel is up
            page.locator(".jp-NotebookPanel .jp-Cell .jp-InputArea-editor").first.click()
            page.keyboard.press("Shift+Enter")                                      # run the cell
            canvas = page.locator(".digitpad canvas.digitpad-canvas")
            canvas.wait_for(timeout=120_000)
            sync_api.expect(canvas).to_have_attribute("tabindex", "-1", timeout=15_000)
            names = page.evaluate("[...document.querySelectorAll('.digitpad canvas')]"
                                  ".map(c => [c.tabIndex, c.getAttribute('role'), c.getAttribute('aria-label')])")
            assert len(names) == 6 and all(tab == -1 for tab, _, _ in names)    # the pad, the 28x28, "Why?"'s 4
            assert all(role == "img" and name for _, role, name in names)
            live = page.evaluate("[...document.querySelectorAll('.digitpad-status, .digitpad-announce')]"
                                 ".map(e => e.getAttribute('aria-live'))")
            assert live == ["polite", "polite"]

            hovering, drawing = hover_then_draw(page, canvas, sent)                # the click focuses the canvas
            assert hovering == 0 and drawing > 0
            sync_api.expect(page.locator(".digitpad-prediction")).not_to_contain_text("blank", timeout=15_000)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "digit_pad_in_jupyterlab_test.png"))    # to look at, not for docs
            sync_api.expect(page.locator(".digitpad-prediction")).to_contain_text("7", timeout=15_000)
            assert page.evaluate("document.activeElement.classList.contains('digitpad-canvas')")
            page.keyboard.press("Tab")
            sync_api.expect(page.get_by_role("button", name="Clear", exact=True)).to_be_focused()
        except BaseException:
            fail_with_screenshot(page, "test_browser-jupyterlab")
            raise
        finally:
            context.close()


def test_a_mouse_passing_over_the_pad_sends_the_kernel_nothing(app, browser):
    """Moves with no button pressed draw nothing, so none goes to the kernel; moves that draw do."""
    url, _, _ = app
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    sent = frames_sent(page)
    try:
        page.goto(url, timeout=60_000, wait_until="commit")
        canvas = page.locator("canvas.digitpad-canvas")
        canvas.wait_for(timeout=60_000)
        hovering, drawing = hover_then_draw(page, canvas, sent)
        assert hovering == 0 and drawing > 0
        assert page.locator(".digitpad-prediction").inner_text().strip() == "7"
    except BaseException:
        fail_with_screenshot(page, "test_browser-hover")
        raise
    finally:
        close_pad(page)
        context.close()
