"""The dashboard in a real browser: Voila serves a notebook, Debian's Chromium (Playwright,
headless) opens it at 1600x1000. During one default run (watch pace) the |w| histogram's title
goes through many steps and ends on the last one; with live on, a key press on the prune
slider re-runs without Run and a new accuracy reaches the status line; the history gains a row
per run; a failing export says so in the status line; a link's query string sets the controls.
Screenshots go to test-artifacts/ (look at them: readable, nothing overlapping, nothing stale).
Latencies are measured in benchmarks/bench_views.py, not asserted here."""

import os
import re
import time

import pytest
from browser_util import (
    ARTIFACTS,
    CHROMIUM,
    HIST_TITLE,
    STATUS,
    browser_page,
    record_titles,
    steps_shown,
    voila,
    wait_for_dashboard,
    write_notebook,
)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's chromium at {CHROMIUM}")]

CELL = 'from explorer import Explorer\nExplorer(dataset="fashion-mnist")\n'
VIEWPORT = {"width": 1600, "height": 1000}
KEPT = ("() => Array.from(document.querySelectorAll('.widget-html')).map(e => e.innerText)"
        ".find(t => t.includes('would keep'))")


def _open(page):
    wait_for_dashboard(page)
    page.wait_for_function(f"({STATUS})().includes('press Run')", timeout=30_000)
    assert page.locator("text=Click to show javascript error").count() == 0


def test_dashboard_in_voila(tmp_path):
    pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    nb = write_notebook(tmp_path / "dashboard.ipynb", CELL)
    t_start = time.time()
    with voila(nb) as url, browser_page(url, VIEWPORT) as (page, errors):
        _open(page)
        assert "would keep 3,140 of 100,480" in page.evaluate(KEPT)  # halving:5 of the 785x128 input layer
        assert "at step 0" in page.evaluate(HIST_TITLE)  # before Run: the initial weights
        page.screenshot(path=str(ARTIFACTS / "dashboard-initial.png"))

        # one default run at the default (watch) pace: a poller in the page records every title the
        # histogram shows, so no frame slips between two looks from here
        record_titles(page)
        page.locator(".explorer-dashboard button.jupyter-button", has_text="Run").first.click()
        page.wait_for_timeout(2500)
        page.screenshot(path=str(ARTIFACTS / "dashboard-mid-run.png"))
        page.wait_for_function(f"({STATUS})().includes(' done ')", timeout=60_000)
        page.wait_for_timeout(300)
        steps = steps_shown(page)
        shown = sorted(set(steps))
        assert len(shown) >= 5, shown
        assert steps[-1] == 30_200, steps[-10:]
        assert any(0 < s <= 200 for s in shown)  # the burn-in played out on screen
        status = page.evaluate(STATUS)
        acc = float(re.search(r"test accuracy ([\d.]+)", status).group(1))
        assert acc > 0.5
        page.screenshot(path=str(ARTIFACTS / "dashboard-after-run.png"))
        page.screenshot(path=str(ARTIFACTS / "dashboard-full.png"), full_page=True)
        rows = page.locator(".explorer-dashboard table tr").count()

        # live: one key press on the prune slider (5 -> 6 halvings) re-runs without Run
        handle = page.locator(".widget-slider", has_text="halvings").locator(".noUi-handle")
        handle.focus()
        handle.press("ArrowRight")
        page.wait_for_function(f"({STATUS})().includes(' done ') && ({STATUS})().includes('weights alive') "
                               f"&& !({STATUS})().includes('test accuracy {acc:.3f}')", timeout=30_000)
        assert page.locator(".explorer-dashboard table tr").count() == rows + 1  # the history gained a row
        assert "halving:6" in page.locator(".explorer-dashboard table").inner_text()

        # a failing export says so in the status line
        folder = page.locator(".widget-text", has_text="export to").locator("input")
        folder.fill("/etc/passwd/figures")
        folder.press("Enter")
        page.locator(".explorer-dashboard button.jupyter-button", has_text="Export").first.click()
        page.wait_for_function(f"({STATUS})().includes('export failed')", timeout=10_000)
        assert "is a file, not a folder" in page.evaluate(STATUS)
        page.screenshot(path=str(ARTIFACTS / "dashboard-export-error.png"))
        assert page.locator("text=Click to show javascript error").count() == 0
    # no page errors at all: "[anywidget] Failed to initialize model" means a figure that never
    # shows an update (views/base.py: FigureWidget loads plotly's module once per page for this)
    assert not errors, errors
    print(f"browser test: {time.time() - t_start:.1f} s")


def test_a_link_sets_the_controls(tmp_path):
    pytest.importorskip("playwright.sync_api")
    nb = write_notebook(tmp_path / "dashboard.ipynb", CELL)
    query = "?burn_in=0&prune=keep:3140&hidden=64&bogus=1"
    with voila(nb) as url, browser_page(url + query, VIEWPORT) as (page, errors):
        wait_for_dashboard(page)
        page.wait_for_function(f"({STATUS})().includes('bogus')", timeout=30_000)
        assert "'bogus' is not a setting" in page.evaluate(STATUS)
        assert page.locator(".widget-text", has_text="hidden").locator("input").input_value() == "64"
        assert "would keep 3,140 of 50,240" in page.evaluate(KEPT)  # keep:3140 of the 785x64 input layer
        burn_in = page.locator(".widget-hslider", has_text="burn in").locator(".widget-readout")
        assert burn_in.inner_text().strip() == "0"  # burn_in=0 from the link
    assert not errors, errors


def test_a_link_with_impossible_values_says_so_in_the_status_line(tmp_path):
    """Issue 19: ?steps=<400 digits> and ?init_scale=1e308 showed "There was an error when executing
    cell [2]" instead of the dashboard; now the dashboard comes up on the rest of the link, and the
    status line names both values and their bounds."""
    pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    nb = write_notebook(tmp_path / "dashboard.ipynb", CELL)
    query = f"?steps={'9' * 400}&init_scale=1e308&hidden=64"
    with voila(nb) as url, browser_page(url + query, VIEWPORT) as (page, errors):
        wait_for_dashboard(page)
        page.wait_for_function(f"({STATUS})().includes('init_scale')", timeout=30_000)
        status = page.evaluate(STATUS)
        page.screenshot(path=str(ARTIFACTS / "dashboard-impossible-link.png"))
        assert "steps='99999" in status and "(400 characters)" in status and "0..1,000,000,000" in status
        assert "init_scale=1e+308" in status and "< 1000" in status
        assert page.locator("text=There was an error when executing cell").count() == 0
        assert page.locator(".widget-text", has_text="hidden").locator("input").input_value() == "64"
    assert not errors, errors
