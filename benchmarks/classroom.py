"""A class on one machine: ``python -m benchmarks.classroom [--students 10 20] [--seconds 60]``.

Starts ``python -m ocrlib.app`` and opens one page per student in one headless Chromium (each page gets a
kernel of its own, as in a classroom). Every student clears the pad and draws a digit (a pen-drawn digit from
the stroke test set, 40 pointer moves over about 0.6 s) every ``--period`` seconds. Measured, per class size:

- pen-up -> prediction shown: from the mouse button's release in the page to the pad's final reading
  arriving on screen (the reading the pad announces at pen-up); median and 95th percentile;
- the server's memory: Voila and all kernels (resident set size), and per kernel;
- whether every page kept working (readings that never came, pages that lost their kernel), and how many
  kernels are left once every page is closed;
- the server's CPU time per digit read (Voila and the kernels, drawing included), and from it how many
  students two cores serve, each drawing a digit every ``--period`` seconds, with a third of the CPU kept free.

The browser runs on the same machine and takes its share of the CPU: on a real class the server has the
machine to itself, so the latencies are on the safe side; the CPU time per digit does not depend on it.
"""

import argparse
import asyncio
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import psutil

from ocrlib.strokeset import load_stroke_set

RESULTS = Path(__file__).parent / "results"

CHROMIUM = os.environ.get("OCRLIB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
IDLE_SECONDS = 10           # open pages, nobody drawing: the server's CPU then
MOVES = 40                  # pointer moves per drawing
DRAW_SECONDS = 0.6          # the time a person takes to draw one digit

WATCH = """() => {
  // pen-up times, and the times the pad's reading (announced at pen-up) changes, in the page's clock
  window.bench = {ups: [], readings: []};
  document.addEventListener("mouseup", () => window.bench.ups.push(performance.now()), true);
  const announce = document.querySelector(".digitpad-announce");
  new MutationObserver(() => window.bench.readings.push([performance.now(), announce.innerText]))
    .observe(announce, {childList: true, subtree: true, characterData: true});
}"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(folder, *options):
    port = free_port()
    RESULTS.mkdir(exist_ok=True)
    log_path = RESULTS / "classroom-app.log"            # the server's log, kept for a look after a failure
    with open(log_path, "wb") as log:                   # the server keeps its own handle on the log
        server = subprocess.Popen([sys.executable, "-m", "ocrlib.app", "--port", str(port), "--no-browser",
                                   "--taught", str(Path(folder) / "taught.sqlite"), *options],
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "voila/static/", timeout=5)
            return server, url
        except urllib.error.HTTPError:
            return server, url
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the app did not start: see {log_path}")


def server_cpu_seconds(server, kernels_only=False):
    """CPU time (user + system) used so far by Voila and every kernel running now (or by the kernels only)."""
    process = psutil.Process(server.pid)
    total = 0.0
    for p in [process] + process.children(recursive=True):
        try:
            if kernels_only and "ipykernel_launcher" not in " ".join(p.cmdline()):
                continue
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def server_memory(server):
    """(resident MB of Voila and every kernel, resident MB of each kernel)."""
    process = psutil.Process(server.pid)
    total, per_kernel = 0, []
    for p in [process] + process.children(recursive=True):
        try:
            rss = p.memory_info().rss / 2**20
            total += rss
            if "ipykernel_launcher" in " ".join(p.cmdline()):
                per_kernel.append(rss)
        except psutil.NoSuchProcess:
            pass
    return total, per_kernel


async def open_student(context, url, failed):
    """A student's page, ready to draw; None (and a screenshot in benchmarks/results/) if it never got there."""
    page = await context.new_page()
    try:
        await page.goto(url, timeout=120_000, wait_until="commit")
        await page.locator("canvas.digitpad-canvas").wait_for(timeout=120_000)
        await page.locator(".digitpad-announce").wait_for(state="attached", timeout=60_000)
        await page.evaluate(WATCH)
        return page
    except Exception:                                   # noqa: BLE001 (counted and shown)
        await page.screenshot(path=str(RESULTS / f"classroom-failed-page-{len(failed)}.png"))
        failed.append(page)
        return None


async def open_class(context, url, n_students, failed, wave=5):
    """The class arrives in waves of five pages at a time."""
    pages = []
    for start in range(0, n_students, wave):
        pages += await asyncio.gather(*(open_student(context, url, failed)
                                        for _ in range(min(wave, n_students - start))))
    return [page for page in pages if page is not None]


async def draw(page, strokes):
    box = await page.locator("canvas.digitpad-canvas").bounding_box()
    scale = box["width"] / 280
    n_points = sum(len(s) for s in strokes)
    pause = DRAW_SECONDS / MOVES
    for stroke in strokes:
        keep = np.linspace(0, len(stroke) - 1, max(2, round(MOVES * len(stroke) / n_points))).round().astype(int)
        points = [(box["x"] + float(x) * scale, box["y"] + float(y) * scale) for x, y in stroke[keep]]
        await page.mouse.move(*points[0])
        await page.mouse.down()
        for point in points[1:]:
            await page.mouse.move(*point)
            await asyncio.sleep(pause)
        await page.mouse.up()


async def student(page, drawings, period, until, latencies, failures, rng):
    await asyncio.sleep(rng.uniform(0, period))         # the class does not draw in step
    while time.monotonic() < until:
        start = time.monotonic()
        await page.keyboard.press("Escape")             # clear
        try:
            await page.locator(".digitpad-announce").filter(has_text="blank").wait_for(timeout=30_000)
            await draw(page, drawings[rng.integers(len(drawings))])
            await page.locator(".digitpad-announce").filter(has_text="It reads").wait_for(timeout=30_000)
        except Exception:                               # noqa: BLE001 (counted, and the student goes on)
            failures.append(page)
            await asyncio.sleep(period)
            continue
        ups, readings = await page.evaluate("[window.bench.ups, window.bench.readings]")
        up = ups[-1]
        after = [t for t, text in readings if t >= up and text.startswith("It reads")]
        if after:
            latencies.append(after[0] - up)
        await asyncio.sleep(max(0.0, period - (time.monotonic() - start)))


async def run_class(url, server, n_students, seconds, period, drawings, seed):
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1366, "height": 768})
        opening = time.monotonic()
        failed_to_open = []
        pages = await open_class(context, url, n_students, failed_to_open)
        opened = time.monotonic() - opening
        idle_memory = server_memory(server)
        idle_start = server_cpu_seconds(server)
        await asyncio.sleep(IDLE_SECONDS)                 # the class looks at the pad: the cost of waiting
        idle_cpu = (server_cpu_seconds(server) - idle_start) / IDLE_SECONDS     # CPU seconds per second
        latencies, failures = [], []
        until = time.monotonic() + seconds
        psutil.cpu_percent()
        cpu_start, drawing_start = server_cpu_seconds(server), time.monotonic()
        kernels_start = server_cpu_seconds(server, kernels_only=True)
        await asyncio.gather(*(student(page, drawings, period, until, latencies, failures,
                                       np.random.default_rng(seed + i)) for i, page in enumerate(pages)))
        cpu = psutil.cpu_percent()
        server_cpu = server_cpu_seconds(server) - cpu_start
        kernels_cpu = server_cpu_seconds(server, kernels_only=True) - kernels_start
        drawing_seconds = time.monotonic() - drawing_start
        busy_memory = server_memory(server)
        lost = sum([await page.locator(".digitpad-lost").count() for page in pages])
        for page in pages:                              # leave each page, as closing its tab does
            await page.goto("about:blank")
        deadline = time.monotonic() + 30                # the browser stays open, as when tabs are closed
        while server_memory(server)[1] and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        await browser.close()
    return {"students": n_students, "opened": opened, "failed_to_open": len(failed_to_open), "latencies": latencies, "failures": len(failures),
            "lost": lost, "idle_memory": idle_memory, "busy_memory": busy_memory, "cpu": cpu,
            "server_cpu": server_cpu, "kernels_cpu": kernels_cpu, "idle_cpu": idle_cpu, "drawing_seconds": drawing_seconds,
            "after_close": server_memory(server)}


def kernel_count(server):
    return len(server_memory(server)[1])


async def dropped(url, server, n_pages, wait):
    """``n_pages`` pages opened, then all dropped at once without saying goodbye (as a phone locked or a browser
    crashed: the kernel shutdown call is blocked): the kernels left every 10 s, up to ``wait`` seconds."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context()
        await context.route("**/voila/api/shutdown/**", lambda route: route.abort())
        failed = []
        pages = await open_class(context, url, n_pages, failed)
        opened = kernel_count(server)
        await context.close()
        await browser.close()
    start, left = time.monotonic(), [(0, opened)]
    while time.monotonic() - start < wait:
        await asyncio.sleep(10)
        left.append((round(time.monotonic() - start), kernel_count(server)))
        if left[-1][1] == 0:
            break
    return len(pages), left


async def capped(url, server, n_pages):
    """``n_pages`` pages opened at once against the cap: (pads, "class is full" pages, other, server MB)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context()

        async def one():
            page = await context.new_page()
            await page.goto(url, timeout=120_000, wait_until="commit")
            pad = page.locator("canvas.digitpad-canvas")
            full = page.get_by_text("The class is full")
            await pad.or_(full).first.wait_for(timeout=120_000)
            return "pad" if await pad.count() else "full" if await full.count() else "other"

        outcomes = await asyncio.gather(*(one() for _ in range(n_pages)), return_exceptions=True)
        memory = server_memory(server)[0]
        kernels = kernel_count(server)
        await context.close()
        await browser.close()
    names = [o if isinstance(o, str) else "other" for o in outcomes]
    return names.count("pad"), names.count("full"), names.count("other"), kernels, memory


def report(result, period):
    """One row of the table. The last columns: the server's CPU time per digit read (what the drawing adds to
    what the open pages cost anyway), and from it how many students two cores serve, each drawing a digit
    every ``period`` seconds, keeping a third of the CPU free."""
    ms = np.array(result["latencies"])
    total, per_kernel = result["busy_memory"]
    _closed_total, closed_kernels = result["after_close"]
    median, p95 = (np.median(ms), np.percentile(ms, 95)) if len(ms) else (float("nan"), float("nan"))
    n = max(len(ms), 1)
    idle_per_page = result["idle_cpu"] / max(result["students"] - result["failed_to_open"], 1)   # CPU s per s
    drawing_cpu = max(result["server_cpu"] - result["idle_cpu"] * result["drawing_seconds"], 0)
    cpu_per_digit = drawing_cpu / n
    capacity = (2 / 3) * 2 / (cpu_per_digit / period + idle_per_page)
    return (f"| {result['students']} | {result['failed_to_open']} | {len(ms)} | {median:.0f} ms | {p95:.0f} ms | "
            f"{result['failures']} | {result['lost']} | {total:,.0f} MB ({np.mean(per_kernel):.0f} MB per kernel) | "
            f"{result['opened']:.0f} s | {result['cpu']:.0f} % | {len(closed_kernels)} | "
            f"{100 * idle_per_page:.1f} % | {1000 * cpu_per_digit:.0f} ms "
            f"({100 * result['kernels_cpu'] / max(result['server_cpu'], 1e-9):.0f} % in kernels) | {capacity:.0f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.classroom", description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, nargs="+", default=[10, 20], help="class sizes to try (default 10 20)")
    parser.add_argument("--seconds", type=float, default=60, help="drawing time per class size (default 60)")
    parser.add_argument("--period", type=float, default=2.0, help="seconds between two digits of a student")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dropped", type=int, default=0, metavar="N",
                        help="instead: open N pages, drop them all without goodbye, count the kernels left "
                             "(--grace-seconds 120, for up to 5 minutes)")
    parser.add_argument("--cap", type=int, nargs=2, default=None, metavar=("MAX", "N"),
                        help="instead: serve with --max-pages MAX and open N pages at once")
    args = parser.parse_args(argv)
    if args.dropped or args.cap:
        return class_limits(args)

    drawings, _labels = load_stroke_set(source="template")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GB; load average at the start "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}; a digit every {args.period:g} s per student, "
          f"{args.seconds:g} s per class size; browser and server on this machine", flush=True)
    print("\n| students | pages that did not open | digits read | pen-up -> prediction, median | p95 | readings that never came | "
          "pages that lost their kernel | server memory while drawing | all pages open after | CPU busy | "
          "kernels left after closing | server CPU per idle page | server CPU per digit | students 2 cores serve |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory(prefix="classroom-") as folder:
        server, url = start_app(folder)
        try:
            for n in args.students:
                result = asyncio.run(run_class(url, server, n, args.seconds, args.period, drawings, args.seed))
                print(report(result, args.period), flush=True)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    print(f"\nload average at the end {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


def class_limits(args):
    """The ``--dropped`` and ``--cap`` measurements (ocrlib/classroom.py)."""
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GB; browser and server on this machine", flush=True)
    with tempfile.TemporaryDirectory(prefix="classroom-") as folder:
        options = ["--grace-seconds", "120"] + (["--max-pages", str(args.cap[0])] if args.cap else [])
        server, url = start_app(folder, *options)
        try:
            if args.dropped:
                opened, left = asyncio.run(dropped(url, server, args.dropped, wait=300))
                print(f"\n{opened} pages opened, then dropped without goodbye; kernels left, by seconds after: "
                      + ", ".join(f"{t} s: {k}" for t, k in left))
            if args.cap:
                pads, full, other, kernels, memory = asyncio.run(capped(url, server, args.cap[1]))
                print(f"\n--max-pages {args.cap[0]}, {args.cap[1]} pages opened at once: {pads} pads, {full} "
                      f"'the class is full', {other} other; {kernels} kernels; server memory {memory:,.0f} MB")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
