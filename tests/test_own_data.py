"""Your own data: Dataset.from_arrays, .csv and .npz files (scikit-learn's bundled wine, breast
cancer and digits written as a user would save them), uploads' bytes, and a config that names a
file: it round-trips through JSON, reproduces the run, refuses a changed file, trains in sweeps
and `explorer compare`, and never travels in a link. Bad files: tests/test_bad_files.py."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from data_util import write_sklearn_files
from sklearn.datasets import load_digits, load_wine

from explorer import Dataset, RunConfig, Trainer, load
from explorer.app.link import query_from_config, settings_from_query, train_command
from explorer.cli import main
from explorer.data import MAX_CLASSES, DataError, from_upload, prepare
from explorer.data import tables as T
from explorer.errors import ExplorerError


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_sklearn_files(tmp_path_factory.mktemp("sk"))


@pytest.fixture(scope="module")
def wine():
    return load_wine()


# -- from_arrays ----------------------------------------------------------------------------------
def test_from_arrays_splits_shuffles_and_scales_on_the_training_part(wine):
    ds = Dataset.from_arrays(wine.data, wine.target, name="wine", feature_names=wine.feature_names)
    assert (ds.n_train, ds.n_test, ds.n_features, ds.classes) == (142, 36, 13, ["0", "1", "2"])
    assert ds.X_train.dtype == np.float32 and ds.X_train.min() == 0 and ds.X_train.max() == 1
    assert ds.X_test.min() >= 0 and ds.X_test.max() <= 1
    assert ds.image_shape is None and ds.feature_names[:2] == ["alcohol", "malic_acid"]
    # the recorded rule inverts the scaling: every training row is one of the original rows
    sc = ds.scaling
    assert sc["rule"].startswith("minmax") and sc["test_values_clipped"] >= 0
    back = ds.X_train * (sc["high"] - sc["low"]) + sc["low"]
    assert np.allclose(back.min(0), sc["low"]) and np.allclose(back.max(0), sc["high"])
    match = np.abs(back[:, None, :] / wine.data[None, :, :] - 1).max(axis=2).argmin(axis=1)
    assert len(set(match)) == ds.n_train and np.array_equal(ds.y_train, wine.target[match])
    assert not np.array_equal(np.sort(match), match)  # shuffled (wine's file is sorted by class)
    raw = Dataset.from_arrays(wine.data, wine.target, scale="none")  # the same permutation, unscaled
    rows = np.concatenate([raw.X_train, raw.X_test])
    order = np.abs(rows[:, None, :] / wine.data[None, :, :] - 1).max(axis=2).argmin(axis=1)
    assert sorted(order) == list(range(178)) and np.array_equal(order[:ds.n_train], match)
    # seeded: the same seed the same split, another seed another
    again = Dataset.from_arrays(wine.data, wine.target, name="wine")
    other = Dataset.from_arrays(wine.data, wine.target, name="wine", seed=1)
    assert np.array_equal(again.X_test, ds.X_test) and not np.array_equal(other.X_test, ds.X_test)


def test_scaling_is_fit_on_the_training_part_only_and_test_values_are_clipped():
    X = np.array([[0.0, 10], [2, 20], [4, 30], [1, 15]])
    Xt = np.array([[-2.0, 10], [8, 25]])
    ds = Dataset.from_arrays(X, [0, 1, 0, 1], Xt, [0, 1], shuffle=False)
    assert list(ds.scaling["low"]) == [0, 10] and list(ds.scaling["high"]) == [4, 30]
    assert np.allclose(ds.X_train, (X - [0, 10]) / [4, 20])
    assert np.allclose(ds.X_test, [[0, 0], [1, 0.75]]) and ds.scaling["test_values_clipped"] == 2
    same = Dataset.from_arrays(X.astype(np.float32), [0, 1, 0, 1], Xt, [0, 1], shuffle=False, scale="none")
    assert np.array_equal(same.X_test, Xt.astype(np.float32)) and same.scaling["rule"].startswith("none")
    flat = Dataset.from_arrays([[1.0, 5], [1, 6], [1, 7]], [0, 1, 1])
    assert np.all(flat.X_train[:, 0] == 0) and np.all(flat.X_test[:, 0] == 0)  # a constant feature is 0


def test_labels_of_any_kind_become_class_indices():
    X = np.arange(24, dtype=float).reshape(12, 2)
    text = ["b", "a", "c"] * 4
    ds = Dataset.from_arrays(X, text, test_fraction=0.25)
    assert ds.classes == ["a", "b", "c"]
    assert Dataset.from_arrays(X, [9, 10] * 6).classes == ["9", "10"]   # numbers sort as numbers
    assert Dataset.from_arrays(X, ["9", "10"] * 6).classes == ["9", "10"]  # also when written as text
    assert Dataset.from_arrays(X, [1.0, 2.0] * 6).classes == ["1", "2"]
    named = Dataset.from_arrays(X, [0, 1] * 6, classes=["cat", "dog"])
    assert named.classes == ["cat", "dog"]
    by_name = Dataset.from_arrays(X, ["dog", "cat"] * 6, classes=["cat", "dog"], seed=3)
    idx = Dataset.from_arrays(X, [1, 0] * 6, classes=["cat", "dog"], seed=3)
    assert np.array_equal(by_name.y_train, idx.y_train)
    imgs = load_digits().images
    d = Dataset.from_arrays(imgs, load_digits().target)  # (n, 8, 8) images are flattened, their shape kept
    assert d.image_shape == (8, 8) and d.n_features == 64


@pytest.mark.parametrize("args, kw, words", [
    ((np.zeros(5), [0, 1, 0, 1, 0]), {}, "X has shape (5,)"),
    ((np.array([["a", "b"], ["c", "d"]]), [0, 1]), {}, "X has dtype <U1"),
    ((np.array([[1, None], [2, 3]], dtype=object), [0, 1]), {}, "dtype object"),
    ((np.array([[0, 1], [np.nan, 1], [1, 1]]), [0, 1, 0]), {}, "X[1, 0] (x0) is nan"),
    ((np.array([[0, 1], [1, np.inf], [1, 1]]), [0, 1, 0]), {"feature_names": ["a", "b"]}, "X[1, 1] (b) is inf"),
    ((np.zeros((4, 2)), [0, 1, 0]), {}, "y has shape (3,) for 4 samples"),
    ((np.zeros((4, 2)), [3, 3, 3, 3]), {}, "holds 1 class (3)"),
    ((np.zeros((MAX_CLASSES + 2, 2)), np.arange(MAX_CLASSES + 2)), {}, "1,002 distinct labels; at most 1,000"),
    ((np.zeros((4, 2)), [0, 1, 0, np.nan]), {}, "no valid label at sample 3"),
    ((np.zeros((4, 2)), [0, 1, 0, 1], np.zeros((2, 2))), {}, "pass both X_test and y_test"),
    ((np.zeros((4, 2)), [0, 1, 0, 1], np.zeros((2, 3)), [0, 1]), {}, "X_test has 3 features but X has 2"),
    ((np.zeros((4, 2)), [0, 1, 0, 1]), {"test_fraction": 1.5}, "test_fraction=1.5"),
    ((np.zeros((1, 2)), [0]), {}, "only 1 sample"),
    ((np.zeros((4, 2)), [0, 1, 0, 1]), {"feature_names": ["a"]}, "feature_names has 1 names for 2 features"),
    ((np.zeros((4, 4)), [0, 1, 0, 1]), {"image_shape": (3, 3)}, "image_shape=(3, 3) has 9 pixels"),
    ((np.zeros((4, 2)), ["x", "y", "z", "x"]), {"classes": ["x", "y"]}, "e.g. 'z'"),
    ((np.zeros((4, 2)), [0, 1, 0, 1]), {"scale": "zscore"}, "scale='zscore'"),
    ((np.zeros((4, 2)), [0, 1, 0, 1]), {"name": ""}, "name must be a non-empty string"),
])
def test_from_arrays_refuses_bad_input_in_one_line(args, kw, words):
    with pytest.raises(DataError) as e:
        Dataset.from_arrays(*args, **kw)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_copy_false_shuffles_and_scales_a_float32_array_in_place(wine):
    X = wine.data.astype(np.float32)
    ds = Dataset.from_arrays(X, wine.target, copy=False)
    assert np.shares_memory(ds.X_train, X) and np.shares_memory(ds.X_test, X)
    ref = Dataset.from_arrays(wine.data.astype(np.float32), wine.target)
    assert np.array_equal(ds.X_train, ref.X_train) and np.array_equal(ds.y_test, ref.y_test)


def test_the_trainer_takes_it_and_the_checked_data_carry_the_feature_names(wine):
    ds = Dataset.from_arrays(wine.data, wine.target, name="wine", feature_names=wine.feature_names)
    td = prepare(ds)
    assert td.feature_names[0] == "alcohol" and td.image_shape is None and td.n_classes == 3
    t = Trainer(RunConfig(hidden=(32,), burn_in=50, prune="keep:150", steps=3000, lr=0.05)).fit(ds)
    assert t.results_["dataset"] == "wine" and t.results_["test_accuracy"] > 0.8
    assert t.results_["config"]["dataset_sha256"] is None  # arrays: nothing to pin


# -- files ------------------------------------------------------------------------------------------
def test_csv_and_npz_files_of_the_same_data_load_alike(files):
    for name, n, F, C in (("wine", 178, 13, 3), ("breast_cancer", 569, 30, 2), ("digits", 1797, 64, 10)):
        c, z = load(str(files[f"{name}.csv"])), load(str(files[f"{name}.npz"]))
        for ds in (c, z):
            assert (ds.n_train + ds.n_test, ds.n_features, ds.n_classes, ds.name) == (n, F, C, name)
            assert len(ds.sha256) == 64
        # the same rows, split and scaled alike (the CSV keeps 6 significant digits)
        assert np.allclose(c.X_train, z.X_train, atol=1e-4) and np.array_equal(c.y_test, z.y_test)
        assert c.feature_names == (z.feature_names if name != "digits" else c.feature_names)
        assert c.image_shape is None
    assert load(str(files["digits.npz"])).image_shape == (8, 8)  # an .npz may say its image shape
    assert load(str(files["wine.csv"])).classes == ["class_0", "class_1", "class_2"]
    assert load(str(files["wine.npz"])).classes == ["class_0", "class_1", "class_2"]


def test_csv_label_column_header_quotes_and_line_endings(tmp_path, files):
    with pytest.raises(DataError, match="line 2, column 14 .class.: 'class_0' is not a number.*--label-column"):
        load(str(files["wine.csv"]), label_column="alcohol")  # then the class names are in a feature column
    assert load(str(files["digits.csv"]), label_column="digit").classes == load(str(files["digits.csv"])).classes
    assert load(str(files["wine.csv"]), label_column=-1).classes == load(str(files["wine.csv"])).classes
    first = tmp_path / "first.csv"  # the label first, by column number
    first.write_text("kind,a,b\nx,1,2\ny,3,4\nx,5,6\ny,7,8\n")
    assert load(str(first), label_column=1).feature_names == ["a", "b"]
    assert load(str(first), label_column="1").classes == ["x", "y"]
    p = tmp_path / "q.csv"
    p.write_bytes('\ufeff"width","kind","height"\r\n"1.5","cat, big",2\r\n3,dog,4\r\n5,dog,6\r\n7,"cat, big",8\r\n\r\n'
                  .encode())
    ds = load(str(p), label_column="kind", test_fraction=0.5)
    assert ds.classes == ["cat, big", "dog"] and ds.feature_names == ["width", "height"] and ds.n_train == 2
    bare = tmp_path / "bare.csv"  # no header: features are named by their column numbers
    bare.write_text("1,2,x\n3,4,y\n5,6,x\n7,8,y\n")
    assert load(str(bare)).feature_names == ["column 1", "column 2"]


def test_splits_of_a_file_and_what_does_not_go_with_one(files):
    path = str(files["wine.csv"])
    assert (load(path, n_train=50, n_test=10).n_train, load(path, n_train=50, n_test=10).n_test) == (50, 10)
    v = load(path, validation=20)
    assert (v.n_train, v.n_test) == (122, 20)
    for kw, words in ((dict(data_dir="/tmp"), "leave data_dir out"), (dict(heldout="post"), "MNIST-shaped"),
                      (dict(label_column="x", sha256=None), "is not a column")):
        with pytest.raises(DataError, match=words):
            load(path, **kw)
    with pytest.raises(DataError, match="picks a CSV file.s label column"):
        load(str(files["wine.npz"]), label_column="x")
    with pytest.raises(DataError, match="label_column and sha256 are for data files"):
        load("digits", label_column="x")


def test_an_upload_reads_like_the_file_and_is_size_checked(files, monkeypatch):
    path = files["wine.csv"]
    up = from_upload("wine.csv", path.read_bytes())
    disk = load(str(path))
    assert np.array_equal(up.X_train, disk.X_train) and up.sha256 == disk.sha256 and up.source == "upload wine.csv"
    assert from_upload("digits.npz", files["digits.npz"].read_bytes()).image_shape == (8, 8)
    monkeypatch.setattr(T, "MAX_UPLOAD_BYTES", 1000)
    for name, content, words in (("wine.csv", path.read_bytes(), "is 12.5 KB; uploads up to 1 KB are taken"),
                                 ("wine.xlsx", b"x", "upload a .csv or .npz file"),
                                 ("empty.csv", b"", "is empty")):
        with pytest.raises(DataError, match=words):
            from_upload(name, content)


# -- a config that names a file -------------------------------------------------------------------
def test_a_config_naming_a_file_round_trips_reproduces_and_refuses_a_changed_file(tmp_path, files):
    path = tmp_path / "wine.csv"
    path.write_bytes(files["wine.csv"].read_bytes())
    cfg = RunConfig(dataset=str(path), hidden=(16,), burn_in=30, prune="keep:100", steps=1500, lr=0.05)
    r = Trainer(cfg).fit().results_
    rec = r["config"]
    assert rec["dataset"] == str(path) and rec["dataset_sha256"] == T.sha256_of(path)
    again = RunConfig.from_json(json.dumps(rec))
    r2 = Trainer(again).fit().results_
    assert r2["test_accuracy"] == r["test_accuracy"] and r2["config"] == rec
    with open(path, "a") as f:
        f.write("13,1,2,15,100,2,2,0.3,1.5,5,1,3,1000,class_0\n")
    with pytest.raises(DataError) as e:
        Trainer(again).fit()
    assert "changed since the run was configured" in str(e.value) and "restore that file" in str(e.value)
    assert Trainer(cfg).fit().results_["config"]["dataset_sha256"] != rec["dataset_sha256"]  # unpinned: new hash


@pytest.mark.parametrize("kw, words", [
    (dict(dataset="digits", label_column="x"), "picks a CSV file's label column"),
    (dict(dataset="wine.csv", dataset_sha256="abc"), "expected the 64 hex digits"),
    (dict(dataset="digits", dataset_sha256="0" * 64), "expected the 64 hex digits"),
    (dict(dataset="wine.csv", data_dir="/tmp"), "leave data_dir out"),
    (dict(dataset="openml:"), "name an OpenML data set"),
    (dict(dataset="wine.xlsx"), "pass a .csv or .npz file or openml:NAME_OR_ID"),
])
def test_config_checks_the_data_settings(kw, words):
    with pytest.raises(ExplorerError, match=words):
        RunConfig(**kw).validate()


def test_a_link_carries_only_registry_names(files):
    base = RunConfig(dataset="digits")
    for query in (f"dataset={files['wine.csv']}", "dataset=openml:61", "dataset=../../etc/x.npz"):
        cfg, problems = settings_from_query(query, base)
        assert cfg.dataset == "digits" and len(problems) == 1 and "never a file or OpenML" in problems[0]
    cfg, problems = settings_from_query("dataset=random&label_column=x&dataset_sha256=" + "0" * 64, base)
    assert cfg.dataset == "random" and len(problems) == 2 and all("cannot be set from a link" in p for p in problems)
    own = RunConfig(dataset=str(files["wine.csv"]), label_column="class", burn_in=10)
    assert query_from_config(own) == "burn_in=10"  # the file stays out of the link ...
    assert f"--dataset {files['wine.csv']}" in train_command(own) and "--label-column class" in train_command(own)


def test_the_dashboard_takes_a_file_lists_it_in_its_menu_and_draws_feature_bars(files):
    pytest.importorskip("ipywidgets")
    from explorer import Explorer
    from explorer.config import choices

    path = str(files["wine.csv"])
    e = Explorer(dataset=path, steps=2000, pace="fast")
    assert "ready: wine, 13-128-3" in e.status.value, e.status.value
    assert path in choices("dataset") and e.controls["dataset"].value == path  # the session's data sets
    e.run_sync()
    assert " done " in e.status.value.replace("&middot;", " "), e.status.value
    assert "of 13 features hold a weight" in e.views["connectivity"].fig.layout.title.text


def test_cli_train_on_a_file_with_its_label_column(files, tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = ["train", "--dataset", str(files["breast_cancer.csv"]), "--label-column", "diagnosis", "--hidden", "16",
            "--burn-in", "50", "--prune", "keep:200", "--steps", "2000", "--lr", "0.05", "--json", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "breast_cancer (455 train, 114 test)" in text and "30-16-2" in text
    r = json.loads(out.read_text())
    assert r["config"]["label_column"] == "diagnosis" and r["test_accuracy"] > 0.85
    assert main(["train", "--dataset", str(files["wine.csv"]), "--dry-run"]) == 0
    assert '"dataset_sha256": null' in capsys.readouterr().out  # nothing is read but to check it loads


def test_a_sweep_and_compare_take_a_file(files, tmp_path, capsys):
    from explorer import sweep

    path = tmp_path / "wine.csv"
    path.write_bytes(files["wine.csv"].read_bytes())
    cfgs = [RunConfig(dataset=str(path), hidden=(16,), burn_in=20, prune=p, steps=800, lr=0.05)
            for p in ("none", "keep:100")]
    recs = sweep(cfgs, out=tmp_path / "sweep", progress=False, workers=1)
    assert [r["status"] for r in recs] == ["ok", "ok"]
    digest = T.sha256_of(path)
    assert all(r["config"]["dataset_sha256"] == digest and r["dataset"] == "wine" for r in recs)
    ids = {r["run_id"] for r in recs}
    with open(path, "a") as f:  # a changed file: new identities, so its runs are done again
        f.write("13,1,2,15,100,2,2,0.3,1.5,5,1,3,1000,class_0\n")
    again = sweep(cfgs, out=tmp_path / "sweep", progress=False, workers=1)
    assert not ids & {r["run_id"] for r in again} and again[0]["n_train"] + again[0]["n_test"] == 179

    out = tmp_path / "cmp"
    rc = main(["compare", "--dataset", str(path), "--budget", "300", "--seeds", "1", "--steps", "400",
               "--out", str(out), "--no-progress", "--formats", "html", "--workers", "1"])
    assert rc == 0
    table = capsys.readouterr().out
    assert "13-128-3 tanh" in table and "Budget: 300 input weights" in table
    res = json.loads((out / "results.json").read_text())
    assert res["dataset"] == str(path) and res["protocol"]["dataset_sha256"] == T.sha256_of(path)
    assert {r["method"] for r in res["rows"]} == {"dense", "post", "random", "gradual", "set", "rigl"}
    assert all(r["failed"] == 0 for r in res["rows"])


# -- memory: a CSV of 100,000 x 1,000 ---------------------------------------------------------------
MEASURE = textwrap.dedent("""
    import sys
    from explorer.data import load
    from explorer.training.memory import peak_rss_mb
    before = peak_rss_mb()
    ds = load(sys.argv[1])
    print(before, peak_rss_mb(), ds.n_train + ds.n_test, ds.n_features, ds.X_train.dtype)
""")


@pytest.mark.slow
def test_a_100k_by_1000_csv_loads_within_twice_its_float32_array(tmp_path):
    """The file (600 MB of text: 1,000 distinct rows written 100 times) is read in a fresh
    process; its peak resident memory, all of it (Python, numpy and the parse included), stays
    under 2x the 381 MiB float32 array it becomes."""
    rng = np.random.default_rng(0)
    rows = np.column_stack([rng.random((1000, 1000)), rng.integers(0, 10, 1000)])
    block = "".join(",".join(f"{v:.3f}" for v in r[:-1]) + f",{int(r[-1])}\n" for r in rows)
    path = tmp_path / "big.csv"
    with open(path, "w") as f:
        f.write(",".join(f"f{j}" for j in range(1000)) + ",label\n")
        for _ in range(100):
            f.write(block)
    out = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, check=True)
    before, peak, n, F, dtype = out.stdout.split()
    array_mb = int(n) * int(F) * 4 / 2**20
    assert (int(n), int(F), dtype) == (100_000, 1_000, "float32")
    print(f"100,000 x 1,000 CSV: peak {float(peak):.0f} MiB (before loading {float(before):.0f}) for a "
          f"{array_mb:.0f} MiB float32 array: {float(peak) / array_mb:.2f}x")
    assert float(peak) <= 2 * array_mb
