"""Sweeps and reproduce: real runs on offline data (digits for speed, Fashion-MNIST for the
post's protocol), on a process pool and on a Dask LocalCluster; resume after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from explorer import ConfigError, RunConfig
from explorer.cli import main
from explorer.experiments.summary import summarize
from explorer.experiments.sweeps import RUNS_FILE, RunLog, grid, run_id, sweep

# small and quick, but learning something (digits, larger init and lr than the post's)
BASE = RunConfig(dataset="digits", hidden=(16,), burn_in=20, prune="halving:2", steps=300, lr=0.05,
                 init_scale=0.1, batch_size=4)
FAST = ["--dataset", "digits", "--steps", "300", "--lr", "0.05", "--init-scale", "0.1", "--batch-size", "4"]


def _same(a: dict, b: dict) -> bool:
    return (a["config"] == b["config"] and a["test_accuracy"] == b["test_accuracy"]
            and a["weights_alive"] == b["weights_alive"] and a["run_id"] == b["run_id"])


def _lines(folder):
    return [json.loads(x) for x in (folder / RUNS_FILE).read_text().splitlines()]


def test_process_pool_and_dask_give_the_same_records(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    cfgs = grid(BASE, {"hidden": [8, 16], "prune": ["halving:2", "random:0.75"], "seed": [0, 1]})
    assert len(cfgs) == 8
    with ProcessPoolExecutor(2) as ex:
        pool = sweep(cfgs, executor=ex, out=tmp_path / "pool", progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
            distributed.Client(cl) as client:
        dask = sweep(cfgs, executor=client.get_executor(), out=tmp_path / "dask", progress=False)
        hosts = {r["worker"]["pid"] for r in dask}
        # the command line on the same cluster: --scheduler ADDRESS
        assert main(["sweep", *FAST, "--burn-in", "20", "--hidden", "8,16", "--prune", "halving:2,random:0.75",
                     "--seeds", "2", "--scheduler", cl.scheduler_address, "--out", str(tmp_path / "cli"),
                     "--no-progress", "--formats", "html"]) == 0
    assert len(hosts) >= 1 and os.getpid() not in hosts  # ran in worker processes
    assert all(r["status"] == "ok" for r in pool + dask)
    assert all(_same(a, b) for a, b in zip(pool, dask))
    assert len({r["test_accuracy"] for r in pool}) > 1  # the grid points differ
    # on disk: one line per run, the same runs
    on_disk = [sorted(r["run_id"] for r in _lines(tmp_path / d)) for d in ("pool", "dask", "cli")]
    assert on_disk[0] == on_disk[1] == on_disk[2] and len(on_disk[0]) == 8
    # the summary groups over seeds: 4 groups of 2
    axes, rows = summarize(pool)
    assert axes == ["hidden", "prune"] and len(rows) == 4 and all(r["runs"] == 2 for r in rows)
    assert all(r["accuracy_ci95"] is not None for r in rows)


def test_resume_after_kill_and_after_a_cut_off_line(tmp_path):
    out = tmp_path / "sw"
    argv = ["sweep", *FAST, "--steps", "40000", "--hidden", "8,16,32", "--burn-in", "0,20", "--seeds", "2",
            "--workers", "1", "--out", str(out), "--no-progress", "--formats", "html"]
    proc = subprocess.Popen([sys.executable, "-m", "explorer", *argv], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    path = out / RUNS_FILE
    deadline = time.time() + 60
    try:
        while time.time() < deadline and proc.poll() is None:
            if path.exists() and len(path.read_bytes().splitlines()) >= 2:
                break
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its workers, mid-way
        proc.wait()
    n_before = len(_lines(out))
    assert 2 <= n_before < 12, f"expected to kill mid-way, found {n_before} lines"
    before = {r["run_id"]: r for r in _lines(out)}

    assert main(argv) == 0
    recs = _lines(out)
    ids = [r["run_id"] for r in recs]
    assert len(ids) == 12 and len(set(ids)) == 12  # complete, once each
    for r in recs:  # the runs finished before the kill were kept, not re-run
        if r["run_id"] in before:
            assert r == before[r["run_id"]]

    # a write cut off mid-line: detected, dropped, that run done again
    data = path.read_bytes()
    last = json.loads(data.splitlines()[-1])
    path.write_bytes(data[: len(data) - len(data.splitlines()[-1]) // 2 - 1])
    assert main(argv) == 0
    recs = _lines(out)
    assert len(recs) == 12 and len({r["run_id"] for r in recs}) == 12
    redone = [r for r in recs if r["run_id"] == last["run_id"]]
    assert len(redone) == 1 and _same(redone[0], last) and redone[0]["seconds"] != last["seconds"]
    assert path.read_bytes().endswith(b"\n")


def test_a_failing_run_is_recorded_and_retried_on_resume(tmp_path):
    bad = BASE.replace(dataset="mnist", data_dir=str(tmp_path / "no-such-folder"))
    cfgs = [BASE, BASE.replace(seed=1), bad, BASE.replace(hidden=(8,))]
    # check=False: the data is not checked before the runs (by default a missing folder is a
    # one-line error before any run), so the run fails in its worker
    recs = sweep(cfgs, out=tmp_path, workers=2, progress=False, check=False)
    assert [r["status"] for r in recs] == ["ok", "ok", "failed", "ok"]
    assert "no-such-folder" in recs[2]["error"] and "\n" not in recs[2]["error"]
    assert recs[2]["config"] == bad.to_dict() and recs[2]["run_id"] == run_id(bad)
    # again: the finished runs are kept as they were, the failed one is tried again (and fails again)
    again = sweep(cfgs, out=tmp_path, workers=2, progress=False, check=False)
    assert [r["worker"] for r in again[:2]] == [r["worker"] for r in recs[:2]]
    assert again[2]["status"] == "failed" and again[2]["worker"] != recs[2]["worker"]
    assert len(_lines(tmp_path)) == 4  # one line per run
    kept = sweep(cfgs, out=tmp_path, workers=2, progress=False, retry_failed=False, check=False)
    assert kept[2] == again[2]
    # identical configs run once and share their record; `explorer.sweep` is the function (the
    # sweep's module is explorer.experiments.sweeps, so no submodule of that name can shadow it)
    import explorer
    import explorer.experiments.sweeps  # noqa: F401

    assert callable(explorer.sweep)
    dup = explorer.sweep([BASE, BASE], progress=False, workers=1)
    assert dup[0] is dup[1]


def _rec(rid, status="ok", **more):
    """A complete record, as far as RunLog.read cares."""
    base = {"run_id": rid, "status": status, "config": {"seed": 0}, "error": None}
    if status != "failed":
        base.update(test_accuracy=0.5, weights_alive=[10, 5], seconds={"burn_in": 0.1, "prune": 0.0, "train": 1.0})
    return {**base, **more}


def test_runlog_drops_garbage_and_keeps_one_line_per_run(tmp_path):
    log = RunLog(tmp_path)
    no_config = {k: v for k, v in _rec("d").items() if k != "config"}
    no_seconds = {k: v for k, v in _rec("e").items() if k != "seconds"}
    lines = [_rec("b", "failed"), "not json", _rec("a"), _rec("b"), no_config, no_seconds, _rec("f", "done"),
             [1, 2], _rec("g", test_accuracy="high")]
    (tmp_path / RUNS_FILE).write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
                                      + '{"run_id": "c", "sta')
    found = log.read()
    assert set(found) == {"a", "b"} and found["b"]["status"] == "ok"
    assert len(log.dropped) == 7 and any("cut-off" in d for d in log.dropped)
    assert "line 5, which is not a complete run record" in log.dropped


def test_a_record_without_its_config_is_dropped_and_redone(tmp_path, capsys):
    """A line with a known run_id but no config made every rerun fail with KeyError: 'config'."""
    out = tmp_path / "sw"
    argv = ["sweep", *FAST, "--burn-in", "20", "--hidden", "8,16", "--out", str(out), "--workers", "1",
            "--no-progress", "--formats", "html"]
    assert main(argv) == 0
    recs = _lines(out)
    broken = {k: v for k, v in recs[0].items() if k != "config"}
    (out / RUNS_FILE).write_text(json.dumps(broken) + "\n" + json.dumps(recs[1]) + "\n")
    capsys.readouterr()
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "dropped line 1, which is not a complete run record; that run is done again" in err
    again = _lines(out)
    assert sorted(r["run_id"] for r in again) == sorted(r["run_id"] for r in recs)
    assert all("config" in r for r in again) and again[0] == recs[1]  # the good line was kept as it was


@pytest.mark.parametrize("argv, msg", [
    (["--activation", "sigmoid"], "activation='sigmoid'"),
    (["--prune", "fraction:2"], "fraction takes a value >= 0 and < 1"),
    (["--burn-in", "0,,5"], "an empty value in the list"),
    (["--hidden", "8,x"], "--hidden 'x'"),
    (["--seeds", "0"], "--seeds 0"),
    (["--seeds", "2", "--seed", "1"], "pass only one"),
    (["--grid", "GRID:{\"burn_in\": []}"], "empty"),
    (["--grid", "GRID:{\"burn_in\": [0,"], "not valid JSON"),
    (["--grid", "GRID:[1, 2]"], "expected a JSON object"),
    (["--grid", "GRID:{\"burnin\": [0]}"], "unknown key 'burnin'"),
    (["--grid", "GRID:{\"seeds\": -1}"], "\"seeds\" must be"),
    (["--grid", "missing.json"], "does not exist"),
    (["--heldout", "other"], "--heldout 'other'"),
    (["--formats", "html,gif"], "--formats 'html,gif'"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, msg):
    argv = list(argv)
    if argv[-1].startswith("GRID:"):
        (tmp_path / "grid.json").write_text(argv[-1][5:])
        argv[-1] = str(tmp_path / "grid.json")
    elif argv[-1] == "missing.json":
        argv[-1] = str(tmp_path / "missing.json")
    assert main(["sweep", "--dataset", "digits", "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("explorer: error:") and msg in err[0], err
    assert not (tmp_path / "o" / RUNS_FILE).exists()  # nothing ran


def test_grid_file_and_options_combine(tmp_path, capsys):
    g = {"base": {"dataset": "digits", "lr": 0.05, "init_scale": 0.1, "batch_size": 4, "steps": 200},
         "hidden": [8, [16, 8]], "prune": "halving:1", "seeds": 2}
    (tmp_path / "grid.json").write_text(json.dumps(g))
    out = tmp_path / "o"
    assert main(["sweep", "--grid", str(tmp_path / "grid.json"), "--burn-in", "0,10", "--prune-layers", "0,0+1",
                 "--workers", "2", "--out", str(out), "--no-progress", "--formats", "html"]) == 0
    recs = _lines(out)
    assert len(recs) == 2 * 2 * 2 * 2
    assert {tuple(r["config"]["hidden"]) for r in recs} == {(8,), (16, 8)}
    assert {json.dumps(r["config"]["prune_layers"]) for r in recs} == {"[0]", "[0, 1]"}
    table = capsys.readouterr().out
    assert "16x8" in table and "0+1" in table
    head = (out / "summary.csv").read_text().splitlines()[0]
    assert head.startswith("hidden,burn_in,prune_layers,runs,failed,accuracy,accuracy_ci95")
    assert (out / "heatmap_accuracy.html").exists() and (out / "heatmap_seconds.html").exists()


@pytest.mark.timeout(600)  # a hang guard; its speed (under a minute) is in benchmarks/bench_sweep.py
def test_reproduce_quick_writes_every_file(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["reproduce", "--quick", "--dataset", "fashion-mnist", "--out", str(out), "--workers", "2",
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "post (MNIST)" in printed and "0.938" in printed  # the post's numbers beside ours
    for name in ("results.csv", "results.json", RUNS_FILE, "plotly.min.js"):
        assert (out / name).is_file(), name
    for stem in ("accuracy_vs_width", "time_vs_width", "halvings"):
        for ext in ("html", "png", "svg"):
            assert (out / f"{stem}.{ext}").stat().st_size > 0, f"{stem}.{ext}"
    res = json.loads((out / "results.json").read_text())
    assert res["dataset"] == "fashion-mnist" and res["quick"] and res["failed"] == 0
    assert res["protocol"]["extra"] == {"heldout": "post"} and res["protocol"]["burn_in"] == 200
    rows = {(r["experiment"], r["hidden"], r["k"]): r for r in res["rows"]}
    assert len(rows) == 7 + 6 + 6
    assert rows[("halvings", 128, 5)]["input_weights_left"] == pytest.approx(785 * 128 / 32, rel=0.01)
    assert rows[("budget", 16, 2)]["input_weights_left"] == pytest.approx(3140, rel=0.01)
    assert rows[("halvings", 128, 3)]["random_accuracy"] is not None
    assert rows[("width", 128, 0)]["accuracy"] > 0.5  # learns (chance is 0.1)
    assert rows[("width", 128, 0)]["post_accuracy"] == 0.938
    assert len((out / "results.csv").read_text().splitlines()) == 1 + 19
    assert len(_lines(out)) == 25


def test_reproduce_plans_the_same_runs_under_any_name_of_a_data_set():
    """'fmnist' is Fashion-MNIST: the post's split and the same runs, not the data set's own split."""
    from explorer.experiments.reproduce import plan_runs

    runs = plan_runs("fashion-mnist", quick=True)
    assert runs[0].extra.get("heldout") == "post"
    assert [c.to_dict() for c in plan_runs("fmnist", quick=True)] == [c.to_dict() for c in runs]
    assert [c.to_dict() for c in plan_runs("Fashion-MNIST", quick=True)] == [c.to_dict() for c in runs]


@pytest.mark.parametrize("workers", [0, -1, 1.5, True])
def test_a_bad_worker_count_is_one_line_before_any_run(workers, tmp_path):
    with pytest.raises(ConfigError, match=r"workers=.*expected a whole number >= 1"):
        sweep([RunConfig(dataset="digits", steps=5)], out=tmp_path, progress=False, workers=workers)
    assert not (tmp_path / "runs.jsonl").exists()
