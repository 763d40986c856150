"""The dashboard in a real JupyterLab 4 (issue 5: "works in JupyterLab 4 and in Voila"; the Voila
side is test_browser.py): `jupyter lab` serves a temporary notebook, Debian's Chromium (Playwright,
headless) opens it, waits for the kernel to be idle, runs all cells; the dashboard renders, the
prune slider changes the kept count, Run (watch pace) plays the run through many steps on the
|w| histogram, the accuracy curve grows and the run history gains a row. Screenshots go to
test-artifacts/."""

import json
import os
import time

import pytest
from browser_util import (
    ARTIFACTS,
    CHROMIUM,
    HIST_TITLE,
    STATUS,
    TRACE_JS,
    browser_page,
    jupyter_lab,
    record_titles,
    steps_shown,
    wait_for_dashboard,
    write_notebook,
)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's chromium at {CHROMIUM}")]

# digits keeps it fast: 65x16 input layer, 2,040 steps, an evaluation every 100 steps
CELL = 'from explorer import Explorer\nExplorer(dataset="digits", hidden=(16,), burn_in=40, steps=2000, live=False)\n'
HTML_HAS = "Array.from(document.querySelectorAll('.widget-html')).some(e => e.innerText.includes({!r}))"
JS_ERROR = "text=Click to show javascript error"


def test_dashboard_in_jupyterlab(tmp_path):
    pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    write_notebook(tmp_path / "dashboard.ipynb", CELL)  # a temp copy: Lab may rewrite its metadata
    t_start = time.time()
    viewport = {"width": 1400, "height": 1400}
    with jupyter_lab(tmp_path) as url, browser_page(url + "lab/tree/dashboard.ipynb", viewport) as (page, errors):
        # Run All before the kernel is idle is silently dropped: wait for the status bar
        page.locator("#jp-main-statusbar .jp-StatusBar-TextItem",
                     has_text="Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)
        t_idle = time.time() - t_start
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-item:visible", has_text="Run All Cells").first.click()

        wait_for_dashboard(page, 60_000)
        run = page.locator(".explorer-dashboard button.jupyter-button", has_text="Run").first
        run.wait_for(timeout=10_000)
        assert page.locator(JS_ERROR).count() == 0
        page.wait_for_function(HTML_HAS.format("would keep 33 of 1,040"), timeout=20_000)  # halving:5 of 65x16
        page.screenshot(path=str(ARTIFACTS / "lab-dashboard-initial.png"))

        # the prune slider: one step right (5 -> 6 halvings) changes the count (live is off: a preview)
        handle = page.locator(".explorer-dashboard .widget-slider", has_text="halvings").locator(".noUi-handle")
        handle.focus()
        handle.press("ArrowRight")
        page.wait_for_function(HTML_HAS.format("would keep 17 of 1,040"), timeout=10_000)

        # Run (watch pace): the |w| histogram's title goes through the steps and ends on the last one
        record_titles(page)
        run.click()
        page.wait_for_function(f"({STATUS})().includes(' done ')", timeout=60_000)
        page.wait_for_timeout(300)
        steps = steps_shown(page)
        assert len(set(steps)) >= 5 and steps[-1] == 2040, sorted(set(steps))
        page.wait_for_function(f"({TRACE_JS})(['test accuracy', 'x']).length >= 10", timeout=10_000)
        acc = page.evaluate(TRACE_JS, ["test accuracy", "y"])
        assert all(0.0 <= a <= 1.0 for a in acc)
        assert page.locator(".explorer-dashboard table tr").count() == 2  # the history: a header and this run
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "lab-dashboard-after-run.png"))
        assert page.locator(JS_ERROR).count() == 0
    # no page errors at all: "[anywidget] Failed to initialize model" means a figure that never
    # shows an update (views/base.py: FigureWidget loads plotly's module once per page for this)
    assert not errors, errors
    print(f"lab browser test: {time.time() - t_start:.1f} s (kernel idle after {t_idle:.1f} s)")


def test_a_saved_notebook_reopens_with_its_figures(tmp_path):
    """Issue 14: a saved notebook shows its dashboard again, not "model not found". With
    JupyterLab's Save Widget State Automatically on (Binder's postBuild turns it on), the
    notebook is run, saved, the server stopped; a new server (a new kernel) opens it, and the
    figures come back from the saved widget state with the last step in their titles."""
    pytest.importorskip("playwright.sync_api")
    write_notebook(tmp_path / "dashboard.ipynb", CELL.replace("live=False", 'live=False, pace="fast"'))
    settings = tmp_path / ".jupyter-home" / "settings" / "@jupyter-widgets" / "jupyterlab-manager"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text('{"saveState": true}')
    viewport = {"width": 1400, "height": 1400}
    with jupyter_lab(tmp_path) as url, browser_page(url + "lab/tree/dashboard.ipynb", viewport) as (page, errors):
        page.locator("#jp-main-statusbar .jp-StatusBar-TextItem",
                     has_text="Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-item:visible", has_text="Run All Cells").first.click()
        wait_for_dashboard(page, 60_000)
        page.locator(".explorer-dashboard button.jupyter-button", has_text="Run").first.click()
        page.wait_for_function(f"({STATUS})().includes(' done ')", timeout=60_000)
        page.wait_for_timeout(500)
        page.keyboard.press("Control+s")
        for _ in range(100):  # saved, with the widget state in its metadata
            page.wait_for_timeout(200)
            if b'"application/vnd.jupyter.widget-state+json"' in (tmp_path / "dashboard.ipynb").read_bytes():
                break
        assert not errors, errors
    size = (tmp_path / "dashboard.ipynb").stat().st_size
    assert size < 8_000_000  # plotly's 5 MB module saved once, not once per figure
    saved = json.loads((tmp_path / "dashboard.ipynb").read_text())["metadata"]["widgets"]
    traces = [t for m in saved["application/vnd.jupyter.widget-state+json"]["state"].values()
              for t in m["state"].get("_widget_data", [])]
    cut = [t for t in traces if t.get("name") == "cut made"]
    assert cut and all(len(t.get("x", [])) == 2 and len(t.get("y", [])) == 2 for t in cut), cut  # the line reopens
    assert all("x" in t for t in traces if t.get("type") == "scatter" and len(t.get("y", []))), \
        [t.get("name") for t in traces if t.get("type") == "scatter" and "x" not in t]  # no series lost its x
    with jupyter_lab(tmp_path) as url, browser_page(url + "lab/tree/dashboard.ipynb", viewport) as (page, errors):
        wait_for_dashboard(page, 60_000)
        try:
            page.wait_for_function(f"(({HIST_TITLE})() || '').includes('at step 2,040')", timeout=30_000)
        finally:
            page.screenshot(path=str(ARTIFACTS / "lab-dashboard-reopened.png"))
            print("title after reopening:", page.evaluate(HIST_TITLE))
        assert page.locator("text=model not found").count() == 0
        # no kernel behind the widgets: one banner says so and what to do; no broken-link icon per
        # widget over the labels, and the controls are greyed out
        looks = page.evaluate("""() => {
            const root = document.querySelector('.explorer-dashboard');
            const inner = [...root.querySelectorAll('.jupyter-widgets-disconnected')];
            return {banner: getComputedStyle(root, '::before').content,
                    icons: inner.filter(e => getComputedStyle(e, '::before').content !== 'none').length,
                    inner: inner.length,
                    run: getComputedStyle(root.querySelector('button.jupyter-button')).opacity};
        }""")
        assert "Run the cell" in looks["banner"] and looks["inner"] > 10 and looks["icons"] == 0, looks
        assert float(looks["run"]) < 1, looks
    assert not errors, errors
