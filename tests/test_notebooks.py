"""Every notebook runs top to bottom on offline data with small parameters, and the numbers it
records make sense; every notebook is stored clean (no outputs) with a `parameters` cell.

The small parameters go into a cell inserted after the one tagged `parameters` (as papermill
does); each notebook writes its key numbers to RESULTS_PATH as JSON, which the tests read.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ["01-explore", "02-reproduce-the-post", "03-heavy-tails", "04-gradient-feedback",
         "05-sweeps-and-scaling", "06-beyond-the-post", "07-bring-your-own-data"]


def _offline_dataset() -> str:
    """Fashion-MNIST (real data, MNIST-shaped) if it is on this machine, else the bundled digits.
    $EXPLORER_NOTEBOOK_DATA chooses one (e.g. digits, to test the fallback)."""
    import os

    from explorer.data import DataError, load

    if os.environ.get("EXPLORER_NOTEBOOK_DATA"):
        return os.environ["EXPLORER_NOTEBOOK_DATA"]
    try:
        load("fashion-mnist", n_train=1, n_test=1, download=False, verbose=False)
        return "fashion-mnist"
    except DataError:
        return "digits"


def execute(name: str, tmp_path: Path, **parameters) -> tuple[dict, nbformat.NotebookNode]:
    """Run notebooks/<name>.ipynb with `parameters` injected; return (recorded results, notebook)."""
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    out = tmp_path / f"{name}.json"
    parameters = {"RESULTS_PATH": str(out), **parameters}
    source = "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
    i = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(i + 1, cell)
    t0 = time.perf_counter()
    NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    print(f"{name}: {time.perf_counter() - t0:.1f} s")
    return json.loads(out.read_text()), nb


def check_printed(name: str, nb: nbformat.NotebookNode) -> None:
    """What a reader sees is written for a reader: nothing on stderr (Jupyter shows it as a red box;
    the data-set notice is a plain line), and no raw "nan" or "None" in printed text and tables."""
    import re

    for c in nb.cells:
        for o in c.get("outputs", []):
            where = f"{name}: cell {c.get('id')}"
            assert o.get("name") != "stderr", f"{where} wrote to stderr: {o.get('text', '')[:200]!r}"
            data = o.get("data", {})
            if any(k.startswith(("application/vnd.jupyter.widget", "application/vnd.plotly")) for k in data):
                continue  # widgets and figures: their reprs are not for reading
            text = o.get("text", "") + data.get("text/plain", "") + data.get("text/html", "")
            bad = re.findall(r"\b(?:nan|NaN|None)\b", text)
            assert not bad, f"{where} prints {bad[0]!r}: {text[:300]!r}"


@pytest.fixture(scope="module")
def dataset():
    return _offline_dataset()


def steps(n: int, dataset: str) -> int:
    """Digits' 64 dim inputs move the post's 1e-5 initial weights slowly: it needs ~6x the steps."""
    return n if dataset != "digits" else 6 * n


# -- stored clean ------------------------------------------------------------------------------
def test_notebooks_are_stored_clean_with_a_parameters_cell():
    found = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    assert set(NAMES) <= set(found), f"missing notebooks: {sorted(set(NAMES) - set(found))}"
    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code and "parameters" in code[0].metadata.get("tags", []), f"{path.name}: first code cell not tagged"
        for c in code:
            assert c.outputs == [] and c.execution_count is None, f"{path.name}: cell {c.get('id')} has outputs"
        assert "widgets" not in nb.metadata, f"{path.name}: saved widget state (plotly.js) in the metadata"
        assert "DATASET = \"auto\"" in code[0].source, f"{path.name}: DATASET should default to 'auto'"
        assert path.stat().st_size < 100_000, f"{path.name}: {path.stat().st_size} bytes; outputs left in?"


# -- one executed run per notebook -------------------------------------------------------------
@pytest.mark.slow
def test_02_reproduce_the_post(tmp_path, dataset):
    r, nb = execute("02-reproduce-the-post", tmp_path, DATASET=dataset, STEPS=steps(1500, dataset), BURN_IN=100,
                    WIDTHS=[4, 32], HALVINGS=[0, 3], BIG_WIDTHS=[64, 512], DENSE_UP_TO=64, SEEDS=[0])
    assert r["dataset"] == dataset
    dense32 = r["exp1"][1]["dense"]
    assert dense32["hidden"] == 32 and dense32["accuracy"] > 0.25  # well above chance (0.1) after 1,500 steps
    k0, k3 = r["exp3"]
    assert k0["input_weights"] == 128 * (r["exp1"][0]["dense"]["input_weights"] // 4)  # dense input layer
    assert abs(k3["input_weights"] / k0["input_weights"] - 1 / 8) < 0.01  # three halvings leave 1/8
    assert all(b["weights alive"] > 0 and 0 <= b["acc keep"] <= 1 for b in r["big"])
    assert r["peak_rss_mb"] < 1500
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stdout")
    assert f"Data set: {dataset}" in text
    check_printed("02", nb)


@pytest.mark.slow
def test_03_heavy_tails(tmp_path, dataset):
    r, nb = execute("03-heavy-tails", tmp_path, DATASET=dataset, STEPS=steps(1000, dataset), BURN_IN=100,
                    N_TRAIN=2000, GRAD_EVERY=10, GRAD_POOL=2, FIT_SAMPLE=3000)
    fits = {(f["dataset"], f["stage"], f["of"]): f for f in r["fits"]}
    assert {(dataset, s, q) for s in ("init", "burn-in", "trained") for q in "wg"} <= set(fits)
    assert ("random", "trained", "w") in fits
    init = fits[(dataset, "init", "w")]
    assert abs(init["top1_share"] - 0.02) < 0.003  # uniform initial weights: the top 1% hold ~2%
    assert not init["plausible"]  # and a uniform has no power-law tail
    assert fits[(dataset, "trained", "w")]["top1_share"] > init["top1_share"]  # training skews |w|
    assert r["pixel_spearman"][dataset] > 0.2 > abs(r["pixel_spearman"]["random"])  # pixels shape the tail
    assert r["peak_rss_mb"] < 1500
    check_printed("03", nb)


@pytest.mark.slow
def test_04_gradient_feedback(tmp_path, dataset):
    r, nb = execute("04-gradient-feedback", tmp_path, DATASET=dataset, STEPS=steps(1000, dataset),
                    BURN_INS=[0, 20, 100, 200], FEEDBACK_EVERY=100, SEEDS=[0])
    st = r["stability"]
    assert st["steps"] == [0, 20, 100, 200]
    assert abs(st["jaccard"][0] - st["random_jaccard"][0]) < 0.05  # a cut at step 0 is a random cut
    assert st["jaccard"][-1] > 5 * st["random_jaccard"][-1]  # after burn-in the mask carries information
    assert r["feedback"]["spearman_median"] > 0  # big weights get bigger gradients
    assert r["feedback"]["n"] == (200 + steps(1000, dataset)) // 100  # one measurement every 100 steps
    acc = r["accuracy"]
    assert acc["burn_in"] == [0, 20, 100, 200] and abs(acc["kept_fraction"] - 1 / 32) < 0.001
    assert all(0 <= a <= 1 for a in acc["mean"]) and acc["dense"] > 0.25
    assert r["peak_rss_mb"] < 1500
    check_printed("04", nb)


@pytest.fixture
def own_tmpdir(tmp_path, monkeypatch):
    """A TMPDIR of the test's own for the kernel and what it starts (issue 19: notebooks 05 and 06
    left /tmp/dask-scratch-space and /tmp/compare-*): empty again when the notebook has run."""
    d = tmp_path / "tmpdir"
    d.mkdir()
    monkeypatch.setenv("TMPDIR", str(d))
    return d


@pytest.mark.slow
def test_05_sweeps_and_scaling(tmp_path, dataset, own_tmpdir):
    r, nb = execute("05-sweeps-and-scaling", tmp_path, DATASET=dataset, STEPS=500, BURN_INS=[0, 200],
                    PRUNE_FRACTIONS=[0.0, 0.9], SEEDS=[0], WIDTHS=[32, 256], DENSE_UP_TO=32, N_TRAIN=2000,
                    DASK=True, DASK_WORKERS=2, SCALING_WIDTHS=[128, 1024])
    g = r["grid"]
    assert len(g["accuracy"]) == 2 and len(g["accuracy"][0]) == 2
    assert all(0 < a <= 1 for row in g["accuracy"] for a in row)
    s = r["scaling"]
    assert [x["hidden"] for x in s] == [32, 256] and s[0]["dense_accuracy"] is not None
    assert s[1]["weights_alive"] < 256 * 785  # keep:3140 cut the wide net
    w = r["width"]  # time and memory against width, each run measured in its own process
    assert [(x["hidden"], x["mode"]) for x in w] == [(128, "dense"), (128, "sparse"), (1024, "dense"), (1024, "sparse")]
    assert all(x["skipped"] is None and x["us_per_sample"] > 0 and x["peak_rss_mb"] > 0 for x in w)
    d = r["dask"]
    if d is not None:  # dask is installed with the test extras; the same seeded runs give the same numbers
        assert d["runs"] == 2 and d["identical"] is True
    assert r["peak_tree_mb"] < 1500 and r["peak_rss_mb"] < 1500
    check_printed("05", nb)
    assert sorted(os.listdir(own_tmpdir)) == []  # no dask-scratch-space left


@pytest.mark.slow
def test_01_explore(tmp_path, dataset):
    pytest.importorskip("ipywidgets")
    pytest.importorskip("explorer.app", reason="explorer/app.py (the dashboard) is not there yet")
    r, nb = execute("01-explore", tmp_path, DATASET=dataset, STEPS=1000, BURN_IN=100, RUN_STEPS=1100)
    assert r["dataset"] == dataset
    n_in = 65 if dataset == "digits" else 785  # inputs + bias
    assert r["steps_done"] == 1100 and r["weights_alive"][0] == n_in * 128 // 32  # five halvings of the input layer
    assert 0 < r["alone_accuracy"] <= 1 and 0 < r["test_accuracy"] <= 1
    widgets = [o for c in nb.cells for o in c.get("outputs", []) if "application/vnd.jupyter.widget-view+json"
               in o.get("data", {})]
    assert len(widgets) >= 2  # the dashboard and the stand-alone view were displayed
    assert r["peak_rss_mb"] < 1500
    check_printed("01", nb)


@pytest.mark.slow
def test_06_beyond_the_post(tmp_path, dataset, own_tmpdir):
    budget = 3140 if dataset != "digits" else 300  # digits: 65 x 128 = 8,320 input weights
    r, nb = execute("06-beyond-the-post", tmp_path, DATASET=dataset, BUDGET=budget, STEPS=steps(2000, dataset),
                    SEEDS=2, WORKERS=2, OUT=None)
    assert r["dataset"] == dataset and r["budget"] == budget
    rows = {x["method"]: x for x in r["rows"]}
    assert list(rows) == ["dense", "post", "random", "gradual", "set", "rigl"]
    for m in ("post", "random", "gradual", "set", "rigl"):
        assert rows[m]["budget_exact"] is True and rows[m]["input_weights"] == budget, m
    assert all(0 <= x["accuracy"] <= 1 and x["seconds"] > 0 for x in rows.values())
    assert r["identical"] is True  # seed 0 trained again in the kernel == the sweep's record
    cov, n_pixels = r["coverage"], 64 if dataset == "digits" else 784
    for m, c in cov.items():
        kept = budget if m != "dense" else 128 * (n_pixels + 1)
        assert c["pixel_weights"] + c["bias_weights"] == c["weights"] == kept
        assert 0 < c["pixels"] <= n_pixels and c["units_fed"] <= c["units_alive"] <= 128
    assert cov["dense"]["pixels"] == n_pixels and cov["dense"]["units_fed"] == 128
    assert cov["post"]["pixels"] < cov["random"]["pixels"]  # the magnitude cut concentrates the budget
    assert cov["post"]["top10_share"] > cov["random"]["top10_share"]
    assert 0 < r["why"]["rank1_share"] <= 1 and 0 <= r["why"]["rank1_overlap"] <= 1
    assert 0 <= r["static_accuracy"] <= 1 and r["peak_rss_mb"] < 1500
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stdout")
    assert f"Data set: {dataset}" in text and "method   how" in text  # the data line and the table
    assert "the files went to a temporary folder, now removed" in text
    check_printed("06", nb)
    assert sorted(os.listdir(own_tmpdir)) == []  # no compare-* folder left


@pytest.mark.slow
def test_07_bring_your_own_data(tmp_path, dataset):
    r, nb = execute("07-bring-your-own-data", tmp_path, DATASET=dataset, STEPS=6000, SEEDS=2, WORKERS=2,
                    N_IMAGES=2000)
    assert r["dataset"] == dataset
    budgets = {"wine": round(14 * 128 * 3140 / 100480), "breast_cancer": round(31 * 128 * 3140 / 100480)}
    for name, budget in budgets.items():
        t = r["tables"][name]
        assert t["budget"] == budget and set(t["rows"]) == {"dense", "post", "random", "set"}
        for m, row in t["rows"].items():
            assert row["failed"] == 0 and 0 <= row["accuracy"] <= 1, (name, m)
            assert row["input_weights"] == (budget if m != "dense" else 128 * (14 if name == "wine" else 31))
    f = r["features"]
    assert f["dataset"] == "breast_cancer" and 1 <= f["post_features"] <= 30 and f["random_features"] <= 30
    tails = r["tails"]
    assert set(tails) == {"wine", "breast_cancer", dataset, "random"}
    for name, row in tails.items():
        assert abs(row["kurtosis init"] - 1.8) < 0.1 and abs(row["top1 init"] - 0.02) < 0.003  # uniform at step 0
        assert ("kurtosis trained" in row) == (name != "random") and 0 < row["rank1"] <= 1 and row["moved"] > 0
    # the printed verdicts are computed from the same numbers
    assert set(r["heavier_than_random"]) == {n for n, x in tails.items() if n != "random"
                                             and x["kurtosis burn-in"] > tails["random"]["kurtosis burn-in"]}
    assert set(r["follows_mean"]) == {n for n, x in tails.items() if n != "random" and x["mean_spearman"] >= 0.5}
    assert tails[dataset]["moved"] > 10 * max(tails["wine"]["moved"], tails["breast_cancer"]["moved"])
    assert r["peak_rss_mb"] < 1500
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stdout")
    assert "from_arrays gives the same split and inputs: True" in text and "False" not in text
    check_printed("07", nb)
