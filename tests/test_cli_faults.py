"""Every error the command line can see coming is one line and exit status 2, before any work
starts: output paths (a file, under a file, a read-only folder or runs.jsonl, ''), data that
is missing or does not fit the split, option values. Runs that cannot be recorded (a full
disk, a file-size limit) stop the sweep in one line. What looked like success but was not
(duplicate grid points, reproduce on small data, the digits budget) says what it did.

Real files, processes and limits. Tests run as root here, where permission bits stop no one:
read-only paths are tried in a child process that becomes user `nobody` after its imports.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from data_util import idx_bytes
from unprivileged import NOBODY, run_as_nobody

from explorer.cli import build_parser, main
from explorer.data import REGISTRY, DataError, load
from explorer.experiments.runlog import RUNS_FILE
from explorer.experiments.summary import format_table, summarize

FAST = ["--dataset", "digits", "--lr", "0.05", "--init-scale", "0.1", "--batch-size", "4", "--burn-in", "20",
        "--steps", "300", "--no-progress", "--formats", "html"]


def one_error(capsys_or_text, *words) -> str:
    """The one `explorer: error:` line (and no traceback) of what was printed; it holds `words`."""
    err = capsys_or_text if isinstance(capsys_or_text, str) else capsys_or_text.readouterr().err
    assert "Traceback" not in err, err
    errors = [x for x in err.splitlines() if x.startswith("explorer: error:")]
    assert len(errors) == 1, err
    for w in words:
        assert w in errors[0], errors[0]
    return errors[0]


def as_nobody(argv) -> subprocess.CompletedProcess:
    """`explorer ARGV` in a child that imports everything first, then becomes `nobody`."""
    return run_as_nobody(f"sys.exit(explorer.cli.main({list(map(str, argv))!r}))",
                         "import explorer.cli, explorer.experiments.sweeps, explorer.experiments.reproduce, "
                         "explorer.experiments.runlog, explorer.files, explorer.data, explorer.training.trainer, "
                         "explorer.experiments.summary, explorer.lab")


# -- 4. output paths, before any work ---------------------------------------------------------------
def test_output_paths_are_checked_before_any_work(tmp_path, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    empty = tmp_path / "empty"
    empty.mkdir()
    # the data would fail to load (mnist is not in an empty folder): the output error comes first
    train = ["train", "--dataset", "mnist", "--data-dir", str(empty), "--steps", "10"]
    cases = [
        (train + ["--json", str(tmp_path)], f"--json {tmp_path}: is a folder"),
        (train + ["--json", str(a_file / "out.json")], f"{a_file} is a file, not a folder"),
        (train + ["--json", ""], "--json '': expected a file name"),
        (["sweep", *FAST, "--out", str(a_file)], f"--out {a_file}: is a file, not a folder"),
        (["sweep", *FAST, "--out", str(a_file / "sub")], f"{a_file} is a file, not a folder"),
        (["sweep", *FAST, "--out", ""], "--out '': expected a folder name"),
        (["reproduce", "--dataset", "digits", "--out", str(a_file)], f"--out {a_file}: is a file, not a folder"),
        (["reproduce", "--dataset", "digits", "--out", str(a_file / "sub")], f"{a_file} is a file"),
        (["reproduce", "--dataset", "digits", "--out", ""], "--out '': expected a folder name"),
    ]
    for argv, words in cases:
        assert main(argv) == 2, argv
        one_error(capsys, words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "empty"]  # nothing was written


def test_read_only_folders_and_runs_file_are_refused_before_any_run(shared_dir):
    # Run as root, the child becomes `nobody`; run as a normal user, it stays that user: the modes
    # below refuse both (root's own writes are the only ones they would not stop).
    ro = shared_dir / "ro"  # 0555: nobody (and no normal user) can create files in it
    ro.mkdir()
    ro.chmod(0o555)
    mine = shared_dir / "mine"  # the child's own folder with a read-only runs.jsonl in it
    mine.mkdir()
    if os.geteuid() == 0:
        os.chown(mine, NOBODY, NOBODY)
    (mine / RUNS_FILE).write_text("")
    (mine / RUNS_FILE).chmod(0o444)
    cases = [
        (["train", *FAST[:-3], "--json", str(ro / "out.json")], "cannot create files in"),
        (["sweep", *FAST, "--out", str(ro)], f"--out {ro}: cannot create files in it (permission denied)"),
        (["sweep", *FAST, "--out", str(ro / "new")], "is not writable"),
        (["reproduce", "--quick", "--dataset", "digits", "--out", str(ro)], "cannot create files in it"),
        (["sweep", *FAST, "--out", str(mine)], f"--out {mine / RUNS_FILE}: the file is read-only"),
        (["reproduce", "--quick", "--dataset", "digits", "--out", str(mine)], "the file is read-only"),
    ]
    for argv, words in cases:
        p = as_nobody(argv)
        assert p.returncode == 2, (argv, p.stderr)
        one_error(p.stderr, words)
    assert sorted(p.name for p in shared_dir.rglob("*")) == ["mine", "ro", RUNS_FILE]
    assert (mine / RUNS_FILE).read_text() == ""


def test_config_files_are_one_line_errors(tmp_path, capsys):
    (tmp_path / "bad.json").write_text('{"burn_in": ')
    (tmp_path / "list.json").write_text("[1]")
    (tmp_path / "key.json").write_text('{"burnin": 3}')
    for name, words in (("missing.json", "does not exist"), ("", "is a folder"), ("bad.json", "not valid JSON"),
                        ("list.json", "must be a JSON object"), ("key.json", "unknown config key(s) ['burnin']")):
        for cmd in (["train"], ["sweep", "--out", str(tmp_path / "o")]):
            assert main([*cmd, "--config", str(tmp_path / name), "--dry-run"]) == 2
            one_error(capsys, words)


def test_an_unreadable_config_file_is_one_line(shared_dir):
    cfg = shared_dir / "secret.json"
    cfg.write_text("{}")
    cfg.chmod(0o000)  # unreadable to nobody, and to its owner when the tests run as a normal user
    p = as_nobody(["train", "--config", str(cfg), "--dry-run"])
    assert p.returncode == 2, p.stderr
    one_error(p.stderr, str(cfg))


def test_lab_takes_a_notebook_path(tmp_path, capsys):
    args = build_parser().parse_args(["lab", "--voila", "my.ipynb"])
    assert args.notebook == "my.ipynb" and args.voila
    assert build_parser().parse_args(["lab"]).notebook is None
    # a missing notebook is refused before any server starts
    assert main(["lab", str(tmp_path / "missing.ipynb")]) == 2
    one_error(capsys, "missing.ipynb", "no such file")


# -- 6. runs.jsonl: a write that fails mid-sweep --------------------------------------------------------
def test_a_full_disk_mid_sweep_stops_it_in_one_line_and_keeps_the_file_whole(tmp_path):
    """A file-size limit (as a full disk does) makes the second record unwritable: exit 2, one
    line saying what failed and how to go on; the file stays whole; the same command resumes."""
    out = tmp_path / "sw"
    out.mkdir()
    # a record of another sweep, padded so that one more record fits under the limit and two do not
    pad = 2_000_000
    foreign = {"run_id": "f" * 16, "status": "failed", "error": "x", "config": {"pad": "x" * pad}}
    (out / RUNS_FILE).write_text(json.dumps(foreign) + "\n")
    size = (out / RUNS_FILE).stat().st_size
    limit = size + 1_600  # a record here is ~1,100 bytes

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    argv = ["sweep", *FAST, "--hidden", "8,16,24,32", "--workers", "1", "--out", str(out)]
    p = subprocess.run([sys.executable, "-m", "explorer", *argv], capture_output=True, text=True, timeout=300,
                       preexec_fn=limited)
    assert p.returncode == 2, p.stderr
    line = one_error(p.stderr, f"cannot write {out / RUNS_FILE}: file too large",
                     f"the sweep stopped with 1 of 4 runs in {out / RUNS_FILE}",
                     "run the same command again to do the other 3")
    assert "Traceback" not in p.stderr, line
    data = (out / RUNS_FILE).read_bytes()
    assert data.endswith(b"\n") and len(data) <= limit
    recs = [json.loads(x) for x in data.splitlines()]
    assert len(recs) == 2 and recs[0] == foreign and recs[1]["status"] == "ok"
    # without the limit, the same command does the other runs
    assert main(argv) == 0
    recs = [json.loads(x) for x in (out / RUNS_FILE).read_text().splitlines()]
    assert len(recs) == 5 and len({r["run_id"] for r in recs}) == 5


# -- 10, 11. data that is not there or does not fit, before any run ----------------------------------
@pytest.mark.parametrize("name", ["auto", *REGISTRY])
def test_load_refuses_a_data_dir_that_is_not_a_folder(tmp_path, name):
    (tmp_path / "file").write_text("x")
    for where in (tmp_path / "nonexistent", tmp_path / "file"):
        with pytest.raises(DataError, match="is not a folder; pass an existing folder or leave it out"):
            load(name, where, n_train=1, n_test=1, verbose=False)


def test_data_problems_are_one_line_before_any_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EXPLORER_MIRRORS", "http://127.0.0.1:9/")  # no download of mnist, even online
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "o"
    cases = [
        (["train", "--dataset", "digits", "--data-dir", str(tmp_path / "nonexistent")], "is not a folder"),
        (["sweep", "--dataset", "digits", "--data-dir", str(tmp_path / "nonexistent")], "is not a folder"),
        (["sweep", "--dataset", "digits", "--heldout", "post"],
         "--heldout post: the post's split is for MNIST-shaped data (28x28 images: mnist, fashion-mnist, random), "
         "not digits; leave --heldout out to use digits's own train/test split"),
        (["sweep", "--dataset", "digits,random", "--heldout", "post"], "not digits"),
        (["sweep", "--dataset", "mnist", "--data-dir", str(empty)], "mnist not found"),
        (["sweep", "--dataset", "random", "--n-train", "70000"], "n_train=70000"),
        (["sweep", "--dataset", "random", "--n-train", "40001", "--heldout", "post"], "n_train=40001"),
    ]
    for argv, words in cases:
        for dry in ([], ["--dry-run"]):
            extra = ["--out", str(out)] if argv[0] == "sweep" else []
            assert main([*argv, *extra, *dry, "--steps", "10"]) == 2, argv
            one_error(capsys, words)
            assert not out.exists()  # nothing ran, nothing was written


def test_a_dry_run_says_what_memory_the_run_needs_and_refuses_what_would_not_fit(capsys):
    assert main(["train", "--dataset", "digits", "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("explorer: memory: the run needs ~") and "at its peak" in err and "available" in err
    assert main(["train", "--dataset", "fashion-mnist", "--hidden", "100000000", "--dry-run"]) == 2
    one_error(capsys, "hidden=100000000 needs ~2.6 TiB", "use burn_in=0")  # the dense burn-in's cut: start sparse
    assert main(["train", "--dataset", "fashion-mnist", "--hidden", "1000000", "--burn-in", "0", "--prune", "erk:1",
                 "--prune-layers", "all", "--activation", "relu", "--batch-size", "64", "--dry-run"]) == 0


def test_heldout_post_on_small_mnist_shaped_data_is_one_line(tmp_path, capsys):
    d = small_mnist(tmp_path / "data", 2_000, 500)
    assert main(["sweep", "--dataset", "mnist", "--data-dir", str(d), "--heldout", "post", "--steps", "10",
                 "--out", str(tmp_path / "o")]) == 2
    one_error(capsys, "--heldout post: the post's split needs 40,500 training samples and mnist has fewer")


# -- 12. option values ----------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, words", [
    (["sweep", "--workers", "0", "--out", "o"], "--workers 0: expected a whole number >= 1"),
    (["reproduce", "--workers", "0", "--out", "o"], "--workers 0: expected a whole number >= 1"),
    (["sweep", "--workers", "-2", "--out", "o"], "--workers -2"),
    (["train", "--json", ""], "--json '': expected a file name"),
    (["sweep", "--out", ""], "--out '': expected a folder name"),
    (["reproduce", "--out", ""], "--out '': expected a folder name"),
    (["train", "--quiet"], "--quiet prints nothing, so the results would be lost; add --json FILE"),
    (["train", "--prune", ""], "--prune '': an empty value; expected none | halving:k"),
    (["sweep", "--prune", "", "--out", "o"], "--prune '': an empty value in the list"),
    (["sweep", "--prune", "fraction:0.5,,0.9", "--out", "o"], "an empty value in the list"),
    (["reproduce", "--seeds", "0"], "--seeds 0"),
])
def test_option_values_are_one_line_errors(tmp_path, monkeypatch, capsys, argv, words):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    one_error(capsys, words)
    assert list(tmp_path.iterdir()) == []


# -- 9. duplicate grid points ---------------------------------------------------------------------------
def test_duplicate_grid_points_are_one_run_in_the_summary(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["sweep", *FAST, "--hidden", "32,32,032", "--workers", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "1 runs into" in printed.err
    table = printed.out.splitlines()
    assert len(table) == 2 and table[1].split()[:2] == ["1", "0"], table  # runs 1, failed 0
    assert "+-0.0000" not in printed.out and "0.0000" not in table[1].split()[3]
    rows = (out / "summary.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[1].split(",")[0:2] == ["1", "0"], rows
    recs = [json.loads(x) for x in (out / RUNS_FILE).read_text().splitlines()]
    assert len(recs) == 1
    axes, rows = summarize(recs * 3)  # a record listed three times is still one run
    assert rows[0]["runs"] == 1 and rows[0]["accuracy_ci95"] is None
    assert "+-0.0000" not in format_table(axes, rows)


# -- 8. reproduce on data the post's split does not fit, and on digits -----------------------------------
def write_idx(path: Path, array: np.ndarray) -> None:
    path.write_bytes(idx_bytes(array, level=1))


def small_mnist(folder: Path, n_train: int, n_test: int) -> Path:
    """MNIST-shaped IDX files with n_train/n_test samples: the first ones of Fashion-MNIST."""
    ds = load("fashion-mnist", n_train=n_train, n_test=n_test, verbose=False)
    folder.mkdir(parents=True)
    for name, X, y in (("train", ds.X_train, ds.y_train), ("t10k", ds.X_test, ds.y_test)):
        write_idx(folder / f"{name}-images-idx3-ubyte.gz", np.round(X * 255).reshape(-1, 28, 28))
        write_idx(folder / f"{name}-labels-idx1-ubyte.gz", y)
    return folder


@pytest.mark.timeout(300)
def test_reproduce_on_small_mnist_shaped_data_uses_its_own_split(tmp_path, monkeypatch, capsys):
    """8,000 train / 2,000 test (the post's split needs 40,500): every run fails was the old way."""
    monkeypatch.setenv("EXPLORER_CACHE", str(tmp_path / "cache"))
    d = small_mnist(tmp_path / "data", 8_000, 2_000)
    out = tmp_path / "rep"
    assert main(["reproduce", "--quick", "--dataset", "mnist", "--data-dir", str(d), "--out", str(out),
                 "--workers", "2", "--no-progress", "--formats", "html"]) == 0
    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    assert lines[0] == ("Data: mnist, its own train/test split (8,000 train / 2,000 test samples); the post's "
                        "split needs 40,500 training samples"), lines[:2]
    assert "validation=" not in printed.out + printed.err
    res = json.loads((out / "results.json").read_text())
    assert res["failed"] == 0 and res["protocol"]["extra"] == {} and res["split"] == lines[0][len("Data: "):]
    assert all(r["accuracy"] is not None for r in res["rows"])
    assert "Fixed budget of ~3,140 input weights" in printed.out


@pytest.mark.timeout(300)
def test_reproduce_on_digits_says_which_budget_it_kept(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["reproduce", "--quick", "--dataset", "digits", "--out", str(out), "--workers", "2",
                 "--no-progress", "--formats", "html"]) == 0
    printed = capsys.readouterr().out
    res = json.loads((out / "results.json").read_text())
    kept = {r["input_weights_left"] for r in res["rows"] if r["experiment"] == "budget"}
    assert kept == {260} and res["budget_kept"] == 260  # 65 inputs x H / 2^k, k = log2(H * 785 / 3140)
    assert "Fixed budget of ~260 input weights (the post's 3,140 at 785 inputs)" in printed
    assert "Fixed budget of ~3,140" not in printed
    assert printed.splitlines()[0] == "Data: digits, its own train/test split (1,500 train / 297 test samples)"
    html = (out / "accuracy_vs_width.html").read_text()
    assert "~260 input weights" in html and "post: ~3,140 input weights (MNIST)" in html


@pytest.mark.parametrize("argv", [["train", "--steps"], ["sweep", "--workers", "x", "--out", "o"], ["data"], [],
                                  ["train", "--bogus"]])
def test_usage_errors_are_one_line_too(capsys, argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    one_error(capsys, "--help`)")
