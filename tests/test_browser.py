"""The dashboard in a real browser: Voila serves a notebook, Debian's Chromium (Playwright,
headless) opens it; the dashboard renders, the prune slider moves the threshold and the
kept count, Run makes the accuracy curve grow. Screenshots go to test-artifacts/."""

import os
import time

import pytest
from browser_util import ARTIFACTS, CHROMIUM, TRACE_JS, browser_page, kept_text, voila, write_notebook

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's chromium at {CHROMIUM}")]

CELL = 'from explorer import Explorer\nExplorer(dataset="fashion-mnist")\n'


def test_dashboard_in_voila(tmp_path):
    pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    nb = write_notebook(tmp_path / "dashboard.ipynb", CELL)
    t_start = time.time()
    with voila(nb) as url, browser_page(url, {"width": 1300, "height": 1000}) as (page, errors):
        page.wait_for_function("document.querySelectorAll('.explorer-dashboard .js-plotly-plot').length >= 6",
                               timeout=90_000)
        assert page.locator("text=Click to show javascript error").count() == 0
        page.wait_for_function(f"({TRACE_JS})(['threshold', 'x']) && ({TRACE_JS})(['threshold', 'x']).length",
                               timeout=20_000)
        thr0 = page.evaluate(TRACE_JS, ["threshold", "x"])[0]
        kept0 = kept_text(page)
        assert "kept 3,140 of 100,480" in kept0  # halving:5 of the 785x128 input layer
        page.screenshot(path=str(ARTIFACTS / "dashboard-initial.png"), full_page=True)

        # the prune slider: one step right (5 -> 6 halvings) moves the line and the count
        handle = page.locator(".widget-slider", has_text="halvings").locator(".noUi-handle")
        handle.focus()
        t0 = time.time()
        handle.press("ArrowRight")
        page.wait_for_function(f"({TRACE_JS})(['threshold', 'x'])[0] != {thr0}", timeout=10_000)
        slider_ms = 1000 * (time.time() - t0)
        page.wait_for_function("Array.from(document.querySelectorAll('.widget-html'))"
                               ".some(e => e.innerText.includes('kept 1,570 of 100,480'))", timeout=10_000)
        thr1 = page.evaluate(TRACE_JS, ["threshold", "x"])[0]
        assert thr1 > thr0
        title = page.locator(".gtitle", has_text="kept 1,570").count()
        assert title == 1  # the histogram's title says it too

        # Run: the accuracy curve grows while the run goes (evaluations every 1,500 steps). A
        # poller in the page records every length the curve takes, so a fast run cannot slip
        # between two looks from here.
        assert page.evaluate(TRACE_JS, ["test accuracy", "x"]) == []
        page.evaluate(f"""() => {{ window.__lens = [];
            setInterval(() => {{ const x = ({TRACE_JS})(['test accuracy', 'x']);
                                 if (x) window.__lens.push(x.length); }}, 20); }}""")
        page.locator("button.jupyter-button", has_text="Run").first.click()
        page.wait_for_function("Array.from(document.querySelectorAll('.widget-html'))"
                               ".some(e => e.innerText.includes(' done '))", timeout=30_000)
        page.wait_for_function(f"({TRACE_JS})(['test accuracy', 'x']).length >= 10", timeout=10_000)
        acc = page.evaluate(TRACE_JS, ["test accuracy", "y"])
        lens = page.evaluate("() => window.__lens")
        assert any(0 < n < len(acc) for n in lens), f"no partial curve was shown mid-run: {sorted(set(lens))}"
        assert acc[-1] > 0.5
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "dashboard-after-run.png"), full_page=True)
        assert page.locator("text=Click to show javascript error").count() == 0
    # no page errors at all: "[anywidget] Failed to initialize model" means a figure that never
    # shows an update (views/base.py: FigureWidget loads plotly's module once per page for this)
    assert not errors, errors
    print(f"browser test: {time.time() - t_start:.1f} s, slider -> plot {slider_ms:.0f} ms")
