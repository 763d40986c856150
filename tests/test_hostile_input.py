"""Issue 19, "as a hostile user would": every case ends in one line and exit status 2 (the CLI), one
ExplorerError (the API), or completes correctly -- never a traceback, a hang or runaway memory.
Real processes (the `explorer` command), real files (FIFOs, gzip bombs, pickles), real sockets.
The dashboard's side (a link's bad values in the status line) is in test_browser.py; the current
folder's modules are test_workers_path.py's and test_lab.py's; the memory estimate test_memory.py's."""

import gzip
import json
import os
import pickle
import resource
import socket
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from explorer import Callback, ExplorerError, RunConfig, Trainer, load
from explorer.cli import main
from explorer.data import DataError
from explorer.experiments.runlog import RUNS_FILE

BIG = "9" * 400  # an integer of more than 308 digits: float() of it overflows
HUGE = "9" * 5000  # more than Python's 4,300-digit limit of int()


def one_error(err: str, *words) -> str:
    assert "Traceback" not in err, err
    errors = [x for x in err.splitlines() if x.startswith("explorer: error:")]
    assert len(errors) == 1, err
    for w in words:
        assert w in errors[0], errors[0]
    assert len(errors[0]) < 400, errors[0]
    return errors[0]


def explorer(*argv, timeout=120, **kw) -> subprocess.CompletedProcess:
    """The `explorer` command in a process of its own."""
    return subprocess.run([sys.executable, "-m", "explorer", *map(str, argv)], capture_output=True, text=True,
                          timeout=timeout, **kw)


# -- integers longer than 308 digits, and more than 4,300 -------------------------------------------
@pytest.mark.parametrize("argv, words", [
    (["train", "--steps", BIG], ["--steps", "(400 characters)", "0..1,000,000,000"]),
    (["train", "--burn-in", BIG], ["--burn-in"]),
    (["train", "--seed", BIG], ["--seed", "0..2,147,483,647"]),
    (["train", "--hidden", BIG], ["--hidden"]),
    (["train", "--hidden", f"64x{HUGE}"], ["--hidden"]),
    (["train", "--rewire-every", BIG], ["--rewire-every"]),
    (["train", "--steps", HUGE], ["(5,000 characters)"]),
    (["train", "--prune", f"keep:{BIG}"], ["prune="]),
    (["train", "--prune-schedule", f"gradual:{BIG}:1"], ["prune_schedule="]),
    (["train", "--init-scale", "1e308"], ["init_scale=1e+308", "< 1000"]),
    (["train", "--steps", "1e23"], ["--steps '1e23'", "0..1,000,000,000"]),
    (["train", "--steps", "100000000000000000000000"], ["steps=", "0..1,000,000,000"]),
    (["sweep", "--steps", BIG, "--out", "OUT"], ["--steps"]),
    (["sweep", "--seeds", BIG, "--out", "OUT"], ["--seeds"]),
    (["compare", "--steps", BIG, "--out", "OUT"], ["steps="]),
    (["compare", "--budget", BIG, "--out", "OUT"], ["budget"]),
])
def test_huge_numbers_are_one_line(tmp_path, capsys, argv, words):
    argv = [str(tmp_path / "o") if a == "OUT" else a for a in argv]
    assert main([*argv, "--dataset", "digits", "--dry-run"]) == 2
    one_error(capsys.readouterr().err, *words)


def test_huge_numbers_in_a_config_file(tmp_path):
    for text, words in ((f'{{"steps": {BIG}}}', ["steps=", "0..1,000,000,000"]),
                        (f'{{"steps": {HUGE}}}', ["holds a value JSON cannot be read as", "4300"]),
                        ('{"init_scale": 1e308}', ["init_scale"])):
        (tmp_path / "c.json").write_text(text)
        p = explorer("train", "--config", tmp_path / "c.json", "--dataset", "digits", "--dry-run")
        assert p.returncode == 2
        one_error(p.stderr, *words)


# -- JSON nested 100,000 deep ------------------------------------------------------------------------
def test_deeply_nested_json_is_one_line(tmp_path):
    deep = "[" * 100_000
    (tmp_path / "deep.json").write_text(deep)
    p = explorer("train", "--config", tmp_path / "deep.json", "--dry-run")
    assert p.returncode == 2
    one_error(p.stderr, "nested too deeply")
    p = explorer("sweep", "--grid", tmp_path / "deep.json", "--out", tmp_path / "o", "--dry-run")
    assert p.returncode == 2
    one_error(p.stderr, "--grid", "nested too deeply")


def test_a_deeply_nested_line_in_runs_jsonl_is_dropped_and_the_run_done(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / RUNS_FILE).write_text("[" * 100_000 + "\n")
    p = explorer("sweep", "--out", out, "--dataset", "digits", "--steps", "20", "--burn-in", "5", "--hidden", "8",
                 "--workers", "1", "--no-progress", "--formats", "html", timeout=300)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr and "dropped line 1, which is not a complete run record" in p.stderr
    recs = [json.loads(x) for x in (out / RUNS_FILE).read_text().splitlines()]
    assert [r["status"] for r in recs] == ["ok"]


# -- plans that would not end: seeds, grids, steps ------------------------------------------------------
@pytest.mark.timeout(120)
@pytest.mark.parametrize("argv, words", [
    (["sweep", "--seeds", "100000000"], ["--seeds 100000000", "1..100,000"]),
    (["compare", "--seeds", "100000000"], ["--seeds 100000000", "1..16,666", "of 6 runs each"]),
    (["reproduce", "--seeds", "100000000"], ["--seeds 100000000"]),
    (["sweep", "--burn-in", ",".join(map(str, range(1000))), "--steps", ",".join(map(str, range(1000))),
      "--seeds", "1000"], ["the grid has 1,000,000,000 runs", "1,000 burn_in x 1,000 steps x 1,000 seed"]),
])
@pytest.mark.parametrize("dry", [True, False], ids=["dry-run", "run"])
def test_huge_plans_are_refused_before_they_are_built(tmp_path, argv, words, dry):
    p = explorer(*argv, "--dataset", "digits", "--out", tmp_path / "o", *(["--dry-run"] if dry else []))
    assert p.returncode == 2
    one_error(p.stderr, *words)
    assert not (tmp_path / "o").exists()


def test_a_grid_file_of_a_billion_runs_is_refused(tmp_path):
    grid = {"burn_in": list(range(1000)), "steps": list(range(1000)), "seeds": 1000}
    (tmp_path / "g.json").write_text(json.dumps(grid))
    p = explorer("sweep", "--grid", tmp_path / "g.json", "--dataset", "digits", "--out", tmp_path / "o", "--dry-run")
    assert p.returncode == 2
    one_error(p.stderr, "the grid has 1,000,000,000 runs")


def test_a_sweep_of_runs_that_cannot_fit_fails_its_dry_run(tmp_path):
    p = explorer("sweep", "--dataset", "digits", "--hidden", "100000x100000", "--out", tmp_path / "o", "--dry-run")
    assert p.returncode == 2
    one_error(p.stderr, "hidden=100000x100000 needs ~", "available")


# -- data files: a FIFO, a gzip bomb, a pickle of shared lists -------------------------------------------
IDX = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
       "t10k-labels-idx1-ubyte.gz")


def idx_gz(dims, body: bytes = b"") -> bytes:
    return gzip.compress(bytes((0, 0, 8, len(dims))) + struct.pack(f">{len(dims)}I", *dims) + body)


def small_idx(folder, n=30):
    folder.mkdir(exist_ok=True)
    (folder / IDX[0]).write_bytes(idx_gz((n, 28, 28), bytes(n * 784)))
    (folder / IDX[1]).write_bytes(idx_gz((n,), bytes(n)))
    (folder / IDX[2]).write_bytes(idx_gz((n, 28, 28), bytes(n * 784)))
    (folder / IDX[3]).write_bytes(idx_gz((n,), bytes(n)))
    return folder


def limited(gb: float):
    """A child's address space held to `gb` GB: a file that inflates past it would fail there."""
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (int(gb * 2**30), int(gb * 2**30)))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("dry", [True, False], ids=["dry-run", "run"])
def test_a_fifo_as_a_data_file_never_blocks(tmp_path, dry):
    d = small_idx(tmp_path / "data")
    (d / IDX[1]).unlink()
    os.mkfifo(d / IDX[1])  # nobody ever writes to it
    p = explorer("train", "--dataset", "mnist", "--data-dir", d, "--steps", "5", *(["--dry-run"] if dry else []),
                 env={**os.environ, "EXPLORER_CACHE": str(tmp_path / "cache")}, timeout=50)
    assert p.returncode == 2
    one_error(p.stderr, IDX[1], "not a regular file (a FIFO, device or socket)")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("bomb", ["declares 10^7 images", "longer than it declares"])
def test_a_gzip_bomb_is_refused_before_it_is_inflated(tmp_path, bomb):
    """6 GB of zeros in a few MB: refused from the header's declared size (more than the data set's
    60,000 samples), or after one byte more than it declares, in a process allowed 1.5 GB."""
    d = small_idx(tmp_path / "data")
    path = d / IDX[0]
    header = (bytes((0, 0, 8, 3)) + struct.pack(">3I", 10_000_000 if bomb.startswith("declares") else 30, 28, 28))
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(header)
        zeros = bytes(2**24)
        for _ in range(6 * 2**30 // len(zeros) if bomb.startswith("declares") else 128):  # 6 GB, or 2 GB more
            f.write(zeros)
    assert path.stat().st_size < 10 * 2**20
    code = "import sys; from explorer.cli import main; sys.exit(main())"
    p = subprocess.run([sys.executable, "-c", code, "train", "--dataset", "mnist", "--data-dir", str(d),
                        "--steps", "5"], capture_output=True, text=True, timeout=110, preexec_fn=limited(1.5),
                       env={**os.environ, "EXPLORER_CACHE": str(tmp_path / "cache")})
    assert p.returncode == 2, p.stderr[-2000:]
    if bomb.startswith("declares"):
        one_error(p.stderr, "declares 10,000,000 images", "at most 60,000")
    else:
        one_error(p.stderr, "has 23537 bytes but its header (30, 28, 28) needs 23536")


class _Nested:
    """Pickles as nested lists whose items are one shared list: 10^9 entries in a few hundred bytes."""


def billion_laughs() -> bytes:
    inner = [0] * 10
    for _ in range(8):
        inner = [inner] * 10  # 10 references to one list, 9 levels deep
    return pickle.dumps(((inner, inner), (inner, inner), (inner, inner)), protocol=2)


@pytest.mark.timeout(60)
def test_a_billion_laughs_pickle_is_refused_in_a_small_process(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    data = billion_laughs()
    assert len(data) < 1000
    (d / "mnist.pkl.gz").write_bytes(gzip.compress(data))
    code = "import sys; from explorer.cli import main; sys.exit(main())"
    p = subprocess.run([sys.executable, "-c", code, "train", "--dataset", "mnist", "--data-dir", str(d),
                        "--steps", "5"], capture_output=True, text=True, timeout=50, preexec_fn=limited(1.5),
                       env={**os.environ, "EXPLORER_CACHE": str(tmp_path / "cache")})
    assert p.returncode == 2, p.stderr[-2000:]
    one_error(p.stderr, "mnist.pkl.gz: holds list", "(train, valid, test) pairs of (X, y) arrays")


def test_a_cifar_batch_of_nested_labels_is_refused():
    from explorer.data.decode import _cifar_batch
    from explorer.data.registry import REGISTRY

    inner = [0] * 10
    for _ in range(8):
        inner = [inner] * 10
    batch = pickle.dumps({b"data": np.zeros((10, 3072), np.uint8), b"labels": inner}, protocol=2)
    with pytest.raises(DataError, match="a flat list of 'labels'"):
        _cifar_batch(REGISTRY["cifar10"], batch, "data_batch_1")


# -- a scheduler that never answers -------------------------------------------------------------------
@pytest.mark.timeout(90)
def test_a_scheduler_that_never_answers_is_one_line(tmp_path):
    pytest.importorskip("dask.distributed")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []
    threading.Thread(target=lambda: held.extend(server.accept() for _ in range(4)), daemon=True).start()
    try:
        t0 = time.monotonic()
        p = explorer("sweep", "--scheduler", f"tcp://127.0.0.1:{server.getsockname()[1]}", "--dataset", "digits",
                     "--steps", "10", "--out", tmp_path / "o", timeout=80)
        print(f"a silent scheduler: refused after {time.monotonic() - t0:.1f} s")
    finally:
        server.close()
    assert p.returncode == 2
    one_error(p.stderr, "no answer in 10 s")


# -- explorer lab --port ------------------------------------------------------------------------------
@pytest.mark.parametrize("port", ["-1", "0", "65536", BIG, "http"])
def test_lab_refuses_a_bad_port_in_one_line(port):
    p = explorer("lab", "--port", port)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
    assert "--port" in p.stderr and "1..65535" in p.stderr


# -- the API: ExplorerError, never a raw TypeError ------------------------------------------------------
def test_api_misuse_raises_one_line_explorer_errors():
    cfg = RunConfig(dataset="digits", hidden=(8,), steps=20, burn_in=5)
    cases = [(lambda: Trainer(cfg, callbacks=5), "callbacks must be a list of explorer.Callback"),
             (lambda: load("digits", data_dir=5), "data_dir must be a folder path"),
             (lambda: RunConfig(extra={"x": object()}).to_json(), "extra holds a object"),
             (lambda: RunConfig(extra={"x": object()}).validate(), "extra holds a object"),
             (lambda: RunConfig(steps=10**400).validate(), "0..1,000,000,000"),
             (lambda: RunConfig(lr=10**400).validate(), "lr="),
             (lambda: RunConfig(hidden=(10**400,)).validate(), "hidden units="),
             (lambda: RunConfig.from_json("{" + '"a":' * 0 + '"steps": ' + HUGE + "}"), "4300")]
    loop = []
    loop.append(loop)
    cases.append((lambda: RunConfig(extra={"loop": loop}).to_json(), "extra refers to itself"))
    cases.append((lambda: RunConfig(extra={"loop": loop}).validate(), "cannot be written as JSON"))
    for make, words in cases:
        with pytest.raises(ExplorerError) as e:
            make()
        assert words in str(e.value) and "\n" not in str(e.value), str(e.value)
    assert RunConfig(extra={"n": np.int64(3), "a": np.arange(2)}).to_json()  # numpy values are plain JSON


def test_explorer_with_a_bad_config_or_query_shows_one_line():
    pytest.importorskip("ipywidgets")
    from explorer import Explorer

    for kw, words in ((dict(config="x"), "config='x': expected a RunConfig"),
                      (dict(query=5), "query=5: expected the page's query string"),
                      (dict(dataset="digits", query="steps=" + BIG), "(400 characters)"),
                      (dict(dataset="digits", query="init_scale=1e308"), "init_scale=1e+308")):
        e = Explorer(live=False, **kw)
        assert words in e.last_error and "\n" not in e.last_error, e.last_error


def test_fit_from_inside_a_step_is_one_line():
    class Refit(Callback):
        def on_step_end(self, trainer):
            trainer.fit()

    t = Trainer(RunConfig(dataset="digits", hidden=(8,), burn_in=5, steps=20), callbacks=[Refit()])
    with pytest.raises(ExplorerError) as e:
        t.fit(load("digits", verbose=False))
    assert "setup() was called while this trainer runs (from a callback)" in str(e.value)
    assert "\n" not in str(e.value)


def test_labels_that_are_not_class_indices_and_no_features_are_refused():
    X, y = np.random.default_rng(0).random((50, 4)), np.zeros(50, np.int64)
    y[0] = 10**6
    with pytest.raises(DataError, match="labels go up to 1,000,000 but only 2 of the 1,000,001 classes"):
        Trainer(RunConfig(hidden=(8,), burn_in=5, steps=5)).fit((X, y))
    y[0] = 1
    with pytest.raises(DataError, match="0 features"):
        Trainer(RunConfig(hidden=(8,), burn_in=5, steps=5)).fit((np.zeros((50, 0)), y))


# -- settings that would do nothing --------------------------------------------------------------------
def test_a_rewiring_that_never_happens_and_a_gradual_cut_without_steps_say_why(capsys):
    assert main(["train", "--dataset", "digits", "--prune", "erk:1", "--rewire", "set:0.3", "--burn-in", "500",
                 "--steps", "100", "--dry-run"]) == 2
    one_error(capsys.readouterr().err, "the first rewiring would be at step 1,000", "lower rewire_every below 100")
    assert main(["train", "--dataset", "digits", "--prune-schedule", "gradual:201:1", "--steps", "0",
                 "--dry-run"]) == 2
    one_error(capsys.readouterr().err, "with steps=0", "prune_schedule='once'")


def test_a_long_run_of_rewirings_is_planned_lazily():
    """rewire_every=1 over 10^9 steps: the schedule is not a list of a billion steps."""
    t = Trainer(RunConfig(dataset="digits", hidden=(8,), burn_in=0, prune="erk:1", rewire="set:0.3",
                          rewire_every=1, steps=10**9)).setup(load("digits", verbose=False))
    t.run(steps=3)
    assert t.state.rewirings == 3 and t._event == (4, "rewire")
