"""`explorer compare` and explorer.experiments.compare: real runs on scikit-learn's digits (small budget and
steps), the budget kept exactly, dry runs, one-line errors, resume, and a Dask cluster."""

from __future__ import annotations

import json

import numpy as np
import pytest

from explorer.cli import main
from explorer.experiments.compare import METHODS, SPARSE, base_config, compare, plan, random_rule
from explorer.experiments.sweeps import RUNS_FILE
from explorer.sparsity.prune import cut_rng, keep_flat

BUDGET, STEPS = 300, 300  # digits: the input layer is 65 x 128 = 8,320 weights
FAST = ["--dataset", "digits", "--budget", str(BUDGET), "--steps", str(STEPS), "--no-progress"]


def _lines(folder):
    return [json.loads(x) for x in (folder / RUNS_FILE).read_text().splitlines()]


def test_every_method_runs_and_the_sparse_ones_keep_exactly_the_budget(tmp_path):
    out = tmp_path / "cmp"
    res = compare(BUDGET, seeds=2, dataset="digits", steps=STEPS, out=out, progress=False, formats=("html",))
    rows = {r["method"]: r for r in res["rows"]}
    assert list(rows) == list(METHODS) == ["dense", "post", "random", "gradual", "set", "rigl"]
    assert res["failed"] == 0 and res["runs"] == 12 and len(res["records"]) == 12
    for m in SPARSE:
        assert rows[m]["budget_exact"] is True and rows[m]["input_weights"] == BUDGET, m
    kept = [r["weights_alive"][0] for r in res["records"]]
    assert kept == [65 * 128] * 2 + [BUDGET] * 10  # method by method, seed by seed
    assert rows["dense"]["input_weights"] == 65 * 128 and rows["dense"]["budget_exact"] is None
    assert rows["dense"]["hidden_alive"] == 128
    assert rows["post"]["hidden_alive_max"] <= 128 and rows["set"]["rewirings"] > 0
    for r in rows.values():
        assert r["runs"] == 2 and r["accuracy_ci95"] is not None and 0 <= r["accuracy"] <= 1
        assert r["seconds"] > 0 and r["samples_per_second"] > 0
    # every method makes the same number of SGD steps; SET and RigL start sparse
    steps = {m: r["burn_in"] + r["steps"] for m, r in rows.items()}
    assert set(steps.values()) == {200 + STEPS}
    assert rows["set"]["burn_in"] == rows["rigl"]["burn_in"] == 0
    # the files
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["budget"] == BUDGET and on_disk["dataset"] == "digits" and on_disk["seeds"] == 2
    assert [r["method"] for r in on_disk["rows"]] == list(METHODS) and "records" not in on_disk
    csv = (out / "results.csv").read_text().splitlines()
    assert csv[0].startswith("method,description,prune") and len(csv) == 1 + len(METHODS)
    assert {"accuracy.html", "time.html"} <= set(on_disk["figures"])
    assert all((out / f).stat().st_size > 0 for f in on_disk["figures"])
    assert len(_lines(out)) == 12


def test_the_methods_configs():
    base = base_config("fashion-mnist", steps=30_000)
    cfg = {m: make(base, 3140) for m, make in METHODS.items()}
    assert cfg["dense"].prune == "none" and cfg["post"].prune == "keep:3140" and cfg["post"].burn_in == 200
    assert cfg["random"].prune == "random:0.96875"  # exactly 1/32 of 100,480 left
    assert cfg["gradual"].prune_schedule == "gradual:22700:450"  # to 3/4 of the steps, 50 cuts
    for m in ("set", "rigl"):
        c = cfg[m]
        assert (c.burn_in, c.steps, c.prune, c.init, c.rewire_every) == (0, 30_200, "keep:3140", "glorot", 500)
    assert cfg["set"].rewire == "set:0.3" and cfg["rigl"].rewire == "rigl:0.3"
    short = METHODS["set"](base_config("fashion-mnist", steps=1_000), 3140)
    assert short.rewire_every == 1_200 // 16  # short runs still rewire 16 times


@pytest.mark.parametrize("size", [8_320, 100_480, 785 * 1024, 785 * 977])
def test_random_rule_leaves_exactly_the_budget(size):
    a = np.random.default_rng(0).random(size)
    for budget in (1, 37, 300, 3140, size // 3, size - 1, size):
        rule = random_rule(budget, size)
        if budget == size:
            assert rule == "none"
            continue
        assert int(keep_flat(a, rule, cut_rng(0)).sum()) == budget, (budget, rule)


def test_dry_run_lists_the_runs_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["compare", *FAST, "--seeds", "2", "--out", str(out), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "12 runs" and len(lines) == 13
    assert [ln.split()[0] for ln in lines[1:]] == [f"method={m}" for m in METHODS for _ in range(2)]
    assert "method=set seed=1 prune=keep:300 burn_in=0 steps=500" in lines[10]
    assert not out.exists()


@pytest.mark.parametrize("argv, msg", [
    (["--budget", "9000"], "--budget 9000: the input layer of digits (64 inputs + bias) x 128 hidden units has "
                           "8,320 weights"),
    (["--budget", "0"], "pass a whole number from 1 to 8,320"),
    (["--seeds", "0"], "--seeds 0"),
    (["--steps", "0"], "--steps 0"),
    (["--formats", "gif"], "--formats 'gif'"),
    (["--workers", "0"], "--workers 0"),
    (["--dataset", "nope"], "nope"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, msg):
    out = tmp_path / "o"
    args = ["compare", "--dataset", "digits", "--out", str(out), *argv]
    for dry in ([], ["--dry-run"]):
        assert main([*args, *dry]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("explorer: error:") and msg in err[0], err
        assert not (out / RUNS_FILE).exists()  # nothing ran


def test_the_library_checks_the_budget_before_any_run(tmp_path):
    from explorer.errors import ConfigError

    with pytest.raises(ConfigError, match="has 8,320 weights"):
        compare(8_321, seeds=1, dataset="digits", steps=STEPS, out=tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists()
    assert len(plan(8_320, seeds=1, dataset="digits", steps=STEPS)) == len(METHODS)  # the whole layer is allowed


def test_the_command_prints_the_table_and_resumes_without_running_again(tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = ["compare", *FAST, "--seeds", "2", "--out", str(out), "--formats", "html", "--workers", "2"]
    assert main(argv) == 0
    printed = capsys.readouterr()
    table = printed.out
    assert "Data: digits, its own train/test split" in table and "Budget: 300 input weights" in table
    for m in METHODS:
        assert f"\n{m} " in table
    first = (out / RUNS_FILE).read_bytes()
    assert len(first.splitlines()) == 12
    assert main(argv) == 0  # the same command again: every run is on disk, nothing runs
    again = capsys.readouterr()
    assert (out / RUNS_FILE).read_bytes() == first
    assert again.out == table  # the same records, so the same table (seconds included)
    # the library call with the same settings finds the same runs
    res = compare(BUDGET, seeds=2, dataset="digits", steps=STEPS, out=out, progress=False, formats=("html",))
    workers = {r["run_id"]: r["worker"] for r in _lines(out)}  # pid and times of the first call's runs
    assert all(r["worker"] == workers[r["run_id"]] for r in res["records"])
    assert (out / RUNS_FILE).read_bytes() == first


def test_on_a_dask_cluster_the_records_are_the_same(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    kw = dict(budget=BUDGET, seeds=1, dataset="digits", steps=STEPS, progress=False, formats=("html",),
              methods=["post", "set"])
    local = compare(out=tmp_path / "pool", workers=1, **kw)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
            distributed.Client(cl) as client:
        dask = compare(out=tmp_path / "dask", executor=client.get_executor(), **kw)
    assert [r["method"] for r in dask["rows"]] == ["post", "set"]
    for a, b in zip(local["records"], dask["records"]):
        assert a["run_id"] == b["run_id"] and a["test_accuracy"] == b["test_accuracy"]
        assert a["weights_alive"] == b["weights_alive"]
