"""The per-feature views in a real browser: Voila serves a notebook that loads breast cancer from
a CSV (scikit-learn's, written with its header), trains with the survivors and connectivity
views watching and shows them; Debian's Chromium (Playwright, headless) must draw the bars
with the header's feature names, ranked, and the titles' counts, with no page errors.
Screenshot: test-artifacts/feature-views.png (look at it: names readable, nothing overlapping)."""

import os

import pytest
from browser_util import ARTIFACTS, CHROMIUM, TRACE_JS, browser_page, voila, write_notebook
from data_util import write_sklearn_files

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's chromium at {CHROMIUM}")]

CELL = """\
import ipywidgets as W
from explorer import RunConfig, Trainer, load
from explorer.views import Board, Connectivity, Survivors

data = load("breast_cancer.csv")
views = [Survivors(), Connectivity()]
board = Board(views)
cfg = RunConfig(hidden=(32,), burn_in=100, prune="keep:200", steps=3000, lr=0.05)
trainer = Trainer(cfg, callbacks=[board]).setup(data)
board.attach(trainer)
trainer.run()
board.sync_state()
print(f"test accuracy {trainer.results_['test_accuracy']:.3f}")
W.HBox([v.fig for v in views])
"""

TITLES = "() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => gd.layout.title.text)"
TICKS = "() => Array.from(document.querySelectorAll('.js-plotly-plot .yaxislayer-above text'))" \
        ".map(t => t.textContent)"


def test_feature_bars_in_voila(tmp_path):
    pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    write_sklearn_files(tmp_path)
    nb = write_notebook(tmp_path / "features.ipynb", CELL)
    with voila(nb) as url, browser_page(url, {"width": 1400, "height": 700}) as (page, errors):
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 2", timeout=120_000)
        page.wait_for_function(f"({TITLES})().some(t => t.includes('features keep weights'))", timeout=30_000)
        page.wait_for_timeout(500)
        titles = page.evaluate(TITLES)
        assert any("of 30 features keep weights" in t for t in titles), titles
        assert any("of 30 features hold a weight" in t for t in titles), titles
        counts = page.evaluate(TRACE_JS, ["weights per feature", "x"])
        names = page.evaluate(TRACE_JS, ["weights per feature", "customdata"])
        assert len(counts) == 16 and counts == sorted(counts, reverse=True) and counts[0] > 0
        assert all(n.startswith(("mean ", "worst ")) or n.endswith(" error") for n in names), names
        ticks = page.evaluate(TICKS)
        shown = set(page.evaluate(TRACE_JS, ["sum of w > 0", "y"])) | set(page.evaluate(TRACE_JS,
                                                                                        ["weights per feature", "y"]))
        assert shown <= set(ticks) and len(shown) >= 16  # every bar is labelled on screen
        assert "test accuracy" in page.inner_text("body")
        page.screenshot(path=str(ARTIFACTS / "feature-views.png"))
        assert page.locator("text=Click to show javascript error").count() == 0
    assert not errors, errors
