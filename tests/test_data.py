"""explorer.data on real files: Debian's Fashion-MNIST, small files written here in every
format, and downloads from a real HTTP server on 127.0.0.1 (good, wrong-hash, cut-off)."""

import gzip
import os
import pickle
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from data_util import idx_bytes, serve

from explorer.data import DATASETS, Dataset, fetch, list_report, load
from explorer.errors import DataError

FASHION = Path("/usr/share/datasets/fashion-mnist")
IDX_NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
needs_fashion = pytest.mark.skipif(not (FASHION / IDX_NAMES[0]).exists(),
                                   reason="Debian's dataset-fashion-mnist is not installed")


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Every test gets its own empty cache and no mirror/data overrides from the caller."""
    for var in ("EXPLORER_DATA", "EXPLORER_MIRRORS", "EXPLORER_SYSTEM_DATA"):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "cache"
    monkeypatch.setenv("EXPLORER_CACHE", str(path))
    return path


@pytest.fixture
def no_system(tmp_path, monkeypatch):
    empty = tmp_path / "system"
    empty.mkdir()
    monkeypatch.setenv("EXPLORER_SYSTEM_DATA", str(empty))


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def files_in(path: Path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


# ---------------------------------------------------------------- writers (independent of the loader)


def write_idx(path: Path, array: np.ndarray, *, magic=None, compress=True):
    path.write_bytes(idx_bytes(array, magic=magic, compress=compress))


def write_mnist(folder: Path, n_train=30, n_test=20, seed=1, compress=True):
    rng = np.random.default_rng(seed)
    arrays = (rng.integers(0, 256, (n_train, 28, 28)), np.arange(n_train) % 10,
              rng.integers(0, 256, (n_test, 28, 28)), np.arange(n_test)[::-1] % 10)
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in zip(IDX_NAMES, arrays, strict=True):
        write_idx(folder / (name if compress else name[:-3]), array, compress=compress)
    return arrays


def write_pickle(path: Path, obj, protocol=2):
    path.write_bytes(gzip.compress(pickle.dumps(obj, protocol=protocol)))


def cifar_batches(n=12, seed=2):
    """Batches as CIFAR-10 pickles them: bytes keys, uint8 (n, 3072) channel-first rows."""
    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    return {b: {b"batch_label": b.encode(), b"labels": [int(v) for v in rng.integers(0, 10, n)],
                b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                b"filenames": [b"x.png"] * n} for b in names}


def write_cifar_folder(folder: Path, batches):
    sub = folder / "cifar-10-batches-py"
    sub.mkdir(parents=True)
    for name, batch in batches.items():
        (sub / name).write_bytes(pickle.dumps(batch, protocol=2))
    return sub


# ---------------------------------------------------------------- real Fashion-MNIST


@needs_fashion
def test_real_fashion_mnist_loads_and_second_load_uses_the_decoded_cache(cache):
    t0 = time.perf_counter()
    ds = load("fashion-mnist", verbose=False)
    t1 = time.perf_counter()
    entries = list((cache / "decoded").glob("fashion-mnist-*.npz"))
    again = load("fashion-mnist", verbose=False)
    t2 = time.perf_counter()
    print(f"\nfashion-mnist: first load {t1 - t0:.2f} s, cached {t2 - t1:.2f} s")

    assert isinstance(ds, Dataset) and ds.name == "fashion-mnist"
    assert ds.X_train.shape == (60000, 784) and ds.X_test.shape == (10000, 784)
    assert ds.X_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert 0 <= ds.X_train.min() and ds.X_train.max() == 1.0
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.image_shape == (28, 28) and ds.classes[0] == "T-shirt/top" and ds.n_classes == 10
    assert ds.source == str(FASHION) and "60000x784" in repr(ds)
    assert len(entries) == 1                                  # decoded once, cached ...
    assert list((cache / "decoded").glob("fashion-mnist-*.npz")) == entries
    np.testing.assert_array_equal(again.X_train, ds.X_train)  # ... and used
    np.testing.assert_array_equal(again.y_test, ds.y_test)


@needs_fashion
@pytest.mark.timeout(60)  # a hang guard only; the probe itself gives up after 3 s
def test_auto_offline_chooses_fashion_mnist_quickly(monkeypatch, capsys):
    monkeypatch.setenv("EXPLORER_MIRRORS", closed_port_url())
    ds = load("auto", n_train=100, n_test=10)
    assert ds.name == "fashion-mnist" and ds.X_train.shape == (100, 784)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "fashion-mnist" in line and "explorer data fetch mnist" in line


def test_auto_falls_back_to_digits(monkeypatch, no_system, capsys):
    monkeypatch.setenv("EXPLORER_MIRRORS", closed_port_url())
    assert load("auto").name == "digits"
    assert "digits" in capsys.readouterr().err


# ---------------------------------------------------------------- small files in every format


def test_idx_files_in_data_dir_load_and_nothing_is_written_there(tmp_path):
    d = tmp_path / "mine"
    Xtr, ytr, Xte, yte = write_mnist(d)
    before = files_in(d)
    ds = load("mnist", data_dir=d, download=False, verbose=False)
    np.testing.assert_array_equal(ds.X_train, (Xtr.reshape(30, -1) / 255).astype(np.float32))
    np.testing.assert_array_equal(ds.y_test, yte)
    assert ds.X_train.dtype == np.float32 and ds.y_train.dtype == np.int64 and ds.source == str(d)
    assert files_in(d) == before

    plain = tmp_path / "plain" / "mnist"     # uncompressed files in data_dir/<name>/
    write_mnist(plain, compress=False)
    ds = load("mnist", data_dir=tmp_path / "plain", download=False, verbose=False)
    np.testing.assert_array_equal(ds.y_train, ytr)


def test_data_dir_from_environment(tmp_path, monkeypatch):
    write_mnist(tmp_path / "shared" / "mnist")
    monkeypatch.setenv("EXPLORER_DATA", str(tmp_path / "shared"))
    assert load("mnist", download=False, verbose=False).source == str(tmp_path / "shared" / "mnist")


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_post_pickle_joins_train_and_valid(tmp_path, protocol):
    rng = np.random.default_rng(3)
    parts = [(rng.random((n, 784), dtype=np.float32), (np.arange(n) % 10).astype(np.int64))
             for n in (20, 10, 5)]
    write_pickle(tmp_path / "mnist.pkl.gz", tuple(parts), protocol)
    ds = load("mnist", data_dir=tmp_path, download=False, verbose=False)
    np.testing.assert_array_equal(ds.X_train, np.concatenate([parts[0][0], parts[1][0]]))
    np.testing.assert_array_equal(ds.y_test, parts[2][1])
    assert ds.n_train == 30 and ds.source.endswith("mnist.pkl.gz")


def test_cifar_folder_and_tar_load_as_hwc(tmp_path):
    batches = cifar_batches()
    sub = write_cifar_folder(tmp_path / "folder", batches)
    tar = tmp_path / "tar" / "cifar-10-python.tar.gz"
    tar.parent.mkdir()
    with tarfile.open(tar, "w:gz") as archive:
        archive.add(sub, arcname="cifar-10-batches-py")
    for where in (tmp_path / "folder", tar.parent):
        ds = load("cifar10", data_dir=where, download=False, verbose=False)
        assert ds.X_train.shape == (60, 3072) and ds.X_test.shape == (12, 3072)
        assert ds.image_shape == (32, 32, 3) and ds.classes[-1] == "truck"
        first = batches["data_batch_1"][b"data"][0].reshape(3, 32, 32)        # channel-first
        np.testing.assert_allclose(ds.X_train[0].reshape(32, 32, 3)[:, :, 2], first[2] / 255, rtol=1e-6)
        assert ds.y_train[12:24].tolist() == batches["data_batch_2"][b"labels"]
    assert ds.source == str(tar)


# ---------------------------------------------------------------- splits and generated sets


def test_random_is_seeded_cheap_and_prefix_stable():
    a = load("random", n_train=100, n_test=10, seed=5)
    b = load("random", n_train=2000, n_test=10, seed=5)
    c = load("random", n_train=100, n_test=10, seed=6)
    np.testing.assert_array_equal(a.X_train, b.X_train[:100])
    np.testing.assert_array_equal(a.y_train, b.y_train[:100])
    assert not np.array_equal(a.X_train, c.X_train)
    assert a.X_train.dtype == np.float32 and 0 <= a.X_train.min() and a.X_train.max() < 1
    assert a.n_features == 784 and a.n_classes == 10 and a.source == "generated (seed 5)"
    assert set(np.unique(b.y_train)) == set(range(10))


def test_post_heldout_and_validation_splits(tmp_path):
    post = load("random", heldout="post", n_train=50)
    tail = load("random", validation=20_000, n_test=500)      # test = training rows 40,000..40,499
    assert post.n_train == 50 and post.n_test == 500
    np.testing.assert_array_equal(post.X_test, tail.X_test)
    assert tail.n_train == 40_000

    write_mnist(tmp_path)
    ds = load("mnist", data_dir=tmp_path, validation=5, verbose=False)
    full = load("mnist", data_dir=tmp_path, verbose=False)
    np.testing.assert_array_equal(ds.X_test, full.X_train[25:])
    assert ds.n_train == 25


def test_digits_is_offline():
    ds = load("digits", download=False, verbose=False)
    assert ds.X_train.shape == (1500, 64) and ds.X_test.shape == (297, 64)
    assert ds.image_shape == (8, 8) and 0 <= ds.X_train.min() and ds.X_train.max() == 1.0


@pytest.mark.parametrize("kwargs, words", [
    (dict(name="svhn"), "unknown data set"),
    (dict(name="random", n_train=0), "n_train=0"),
    (dict(name="random", n_train=-1), "non-negative"),
    (dict(name="random", n_test=10_001), "10000 samples"),
    (dict(name="random", heldout="yes"), "heldout must be"),
    (dict(name="digits", heldout="post"), "not digits"),
    (dict(name="random", heldout="post", validation=5), "pass only one"),
    (dict(name="random", validation=60_000), "leaves no training"),
    (dict(name="random", seed=-1), "seed"),
    (dict(name="mnist", data_dir="/nonexistent/folder"), "not a folder"),
])
def test_bad_options(kwargs, words):
    with pytest.raises(DataError, match=words) as info:
        load(verbose=False, **kwargs)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------- bad files


def _bad_magic(d):
    write_idx(d / IDX_NAMES[0], np.zeros((30, 28, 28)), magic=(8, 3, 0, 3))


def _bad_ndim(d):
    write_idx(d / IDX_NAMES[1], np.zeros((30, 1, 1)))


def _short_data(d):
    raw = gzip.decompress((d / IDX_NAMES[0]).read_bytes())
    (d / IDX_NAMES[0]).write_bytes(gzip.compress(raw[:-100]))


def _count_mismatch(d):
    write_idx(d / IDX_NAMES[1], np.zeros(29))


def _label_range(d):
    write_idx(d / IDX_NAMES[3], np.full(20, 12))


def _cut_gzip(d):
    data = (d / IDX_NAMES[0]).read_bytes()
    (d / IDX_NAMES[0]).write_bytes(data[: len(data) // 2])


def _not_gzip(d):
    (d / IDX_NAMES[2]).write_bytes(b"<html>404 not found</html>")


def _small_images(d):
    write_idx(d / IDX_NAMES[0], np.zeros((30, 20, 20)))


def _missing(d):
    (d / IDX_NAMES[3]).unlink()


@pytest.mark.parametrize("damage, words", [
    (_bad_magic, ["train-images", "bad magic number", "explorer data fetch mnist"]),
    (_bad_ndim, ["train-labels", "3 dimensions, expected 1"]),
    (_short_data, ["train-images", "truncated or corrupt"]),
    (_count_mismatch, ["train files", "30 inputs but 29 labels"]),
    (_label_range, ["t10k files", "label value 12 out of range 0..9"]),
    (_cut_gzip, ["train-images", "not a readable gzip", "delete it"]),
    (_not_gzip, ["t10k-images", "not a readable gzip"]),
    (_small_images, ["20x20, expected 28x28"]),
    (_missing, ["incomplete", "t10k-labels-idx1-ubyte.gz", "explorer data fetch mnist"]),
])
def test_bad_idx_files(tmp_path, cache, damage, words):
    d = tmp_path / "mine"
    write_mnist(d)
    damage(d)
    before = files_in(d)
    with pytest.raises(DataError) as info:
        load("mnist", data_dir=d, download=False, verbose=False)
    message = str(info.value)
    assert all(w in message for w in words), message
    assert "\n" not in message
    assert files_in(d) == before and files_in(cache / "decoded") == []


@pytest.mark.parametrize("obj, words", [
    ({"train": 1}, "not the mnist.pkl.gz layout"),
    (((np.zeros((3, 784), np.float32), np.zeros(3, np.int64)),) * 2, "not the mnist.pkl.gz layout"),
    (((np.full((3, 784), 2.0, np.float32), np.zeros(3, np.int64)),) * 3, "outside [0, 1]"),
    (((np.zeros((3, 10), np.float32), np.zeros(3, np.int64)),) * 3, "expected (n, 784)"),
])
def test_bad_pickles(tmp_path, cache, obj, words):
    write_pickle(tmp_path / "mnist.pkl.gz", obj)
    with pytest.raises(DataError) as info:
        load("mnist", data_dir=tmp_path, download=False, verbose=False)
    assert words in str(info.value) and "mnist.pkl.gz" in str(info.value)
    assert files_in(cache / "decoded") == []


def test_bad_cifar_inputs(tmp_path):
    batches = cifar_batches()
    batches["test_batch"][b"data"] = batches["test_batch"][b"data"][:, :100]
    write_cifar_folder(tmp_path / "a", batches)
    with pytest.raises(DataError, match=r"test_batch: data is uint8 \(12, 100\)"):
        load("cifar10", data_dir=tmp_path / "a", verbose=False)

    sub = write_cifar_folder(tmp_path / "b", cifar_batches())
    (sub / "data_batch_3").unlink()
    with pytest.raises(DataError, match="incomplete.*data_batch_3"):
        load("cifar10", data_dir=tmp_path / "b", verbose=False)

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "cifar-10-python.tar.gz").write_bytes(gzip.compress(b"x" * 5000)[:200])
    with pytest.raises(DataError, match="not a readable tar.gz"):
        load("cifar10", data_dir=tmp_path / "c", verbose=False)


class _Shell:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return os.system, (f"touch {self.target}",)


class _Opener:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return open, (str(self.target), "w")


@pytest.mark.parametrize("payload", [_Shell, _Opener])
def test_malicious_pickles_are_refused_and_run_nothing(tmp_path, payload):
    target = tmp_path / "pwned"
    evil = payload(target)
    write_pickle(tmp_path / "mnist.pkl.gz", ((evil, np.zeros(3)),) * 3)
    with pytest.raises(DataError, match="cannot be loaded safely.*refused to load"):
        load("mnist", data_dir=tmp_path, download=False, verbose=False)

    batches = cifar_batches()
    batches["data_batch_1"][b"labels"] = evil
    write_cifar_folder(tmp_path / "c", batches)
    with pytest.raises(DataError, match="data_batch_1: cannot be loaded safely"):
        load("cifar10", data_dir=tmp_path / "c", download=False, verbose=False)
    assert not target.exists()


# ---------------------------------------------------------------- downloads from a real server


@pytest.fixture(scope="module")
def server():
    """Serves /good/ (Debian's Fashion-MNIST files), /bad/ (wrong bytes) and /cut/ (the good
    bytes, but the connection closes halfway through the promised Content-Length)."""
    routes = {}
    if (FASHION / IDX_NAMES[0]).exists():
        for name in IDX_NAMES:
            routes[f"/good/{name}"] = routes[f"/cut/{name}"] = (FASHION / name).read_bytes()
            routes[f"/bad/{name}"] = b"this is not the file you are looking for\n" * 50

    with serve(routes, cut_prefix="/cut/") as url:
        yield url


@needs_fashion
def test_fetch_downloads_verifies_and_falls_over_to_the_next_mirror(server, cache, no_system):
    folder = fetch("fashion-mnist", progress=False, mirrors=[closed_port_url(), f"{server}/good/"])
    assert folder == cache / "fashion-mnist"
    assert files_in(folder) == sorted(IDX_NAMES)          # no .part, no pooch temporaries
    for name in IDX_NAMES:
        assert (folder / name).read_bytes() == (FASHION / name).read_bytes()
    ds = load("fashion-mnist", download=False, verbose=False, n_train=1000)
    assert ds.source == str(folder) and ds.n_train == 1000
    assert "downloaded copy" in list_report().splitlines()[1]


@needs_fashion
def test_wrong_hash_is_refused_and_nothing_is_left(server, cache):
    with pytest.raises(DataError) as info:
        fetch("fashion-mnist", progress=False, mirrors=[f"{server}/bad/"])
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message and "does not match the published hash, refused" in message
    assert files_in(cache / "fashion-mnist") == []


@needs_fashion
def test_cut_off_download_leaves_no_complete_looking_file(server, cache):
    with pytest.raises(DataError, match="could not download train-images-idx3-ubyte.gz") as info:
        fetch("fashion-mnist", progress=False, mirrors=[f"{server}/cut/"])
    assert "\n" not in str(info.value)
    assert files_in(cache / "fashion-mnist") == []


@needs_fashion
def test_wrong_cached_file_is_fetched_again_once_then_refused(server, cache, monkeypatch, no_system):
    folder = fetch("fashion-mnist", progress=False, mirrors=[f"{server}/good/"])
    labels = folder / IDX_NAMES[3]
    labels.write_bytes(b"tampered")
    monkeypatch.setenv("EXPLORER_MIRRORS", f"{server}/good/")
    ds = load("fashion-mnist", n_train=10, verbose=False)         # load notices and fetches again
    assert labels.read_bytes() == (FASHION / IDX_NAMES[3]).read_bytes()
    assert np.bincount(ds.y_test).tolist() == [1000] * 10

    labels.write_bytes(b"tampered again")
    with pytest.raises(DataError, match="SHA-256 does not match"):
        load("fashion-mnist", download=False, verbose=False)
    monkeypatch.setenv("EXPLORER_MIRRORS", f"{server}/bad/")
    with pytest.raises(DataError, match="refused"):
        load("fashion-mnist", verbose=False)
    assert not labels.exists()


def test_no_network_and_no_copy_says_where_it_looked_and_what_to_do(cache, no_system, monkeypatch):
    monkeypatch.setenv("EXPLORER_MIRRORS", closed_port_url())
    with pytest.raises(DataError) as info:
        load("mnist", verbose=False)
    message = str(info.value)
    for words in ("mnist not found", str(cache / "mnist"), "cannot connect", "explorer data fetch mnist",
                  "--dataset digits"):
        assert words in message, message
    assert "\n" not in message and files_in(cache / "mnist") == []
    with pytest.raises(DataError, match="download=False"):
        load("mnist", download=False, verbose=False)


# ---------------------------------------------------------------- report and import


def test_list_report_and_names(no_system):
    lines = list_report().splitlines()
    assert [line.split()[0] for line in lines[:5]] == list(DATASETS)
    assert "explorer data fetch mnist" in lines[0] and "available" in lines[3]
    with pytest.raises(DataError, match="needs no download"):
        fetch("digits")


def test_import_is_light():
    code = ("import sys, explorer.data; heavy = {'pooch', 'sklearn', 'plotly', 'ipywidgets', 'requests'}; "
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_pickle_helper_accepts_plain_arrays_round_trip():
    from explorer.data.decode import unpickle as _unpickle

    array = np.arange(12, dtype=np.int16).reshape(3, 4)
    for protocol in (2, 4, 5):
        data = pickle.dumps({"a": [array, (1, 2.5)], b"k": np.float64(3)}, protocol=protocol)
        out = _unpickle(data, "x", "mnist")
        np.testing.assert_array_equal(out["a"][0], array)
        assert out[b"k"] == 3.0


# ---------------------------------------------------------------- prepare(): what a model may train on


def test_prepare_normalises_arrays_and_datasets():
    from explorer.data import TrainingData, prepare

    rng = np.random.default_rng(0)
    X = np.asfortranarray(rng.integers(0, 9, (12, 5)))                 # int, Fortran order
    y = (np.arange(12) % 3).astype(np.float32)                          # whole-number floats
    d = prepare((X, y))
    assert isinstance(d, TrainingData) and d.name == "arrays" and d.image_shape is None
    assert d.X.dtype == np.float64 and d.X.flags.c_contiguous and d.y.dtype == np.int64
    assert (d.n_train, d.n_test, d.n_features, d.n_classes) == (12, 12, 5, 3)
    np.testing.assert_array_equal(d.X_test, X)                          # (X, y): tested on its training data
    assert "train=12x5 float64" in repr(d)

    X32 = rng.random((12, 5), dtype=np.float32)
    d = prepare((X32, y, X32[:4], y[:4]), n_train=10, n_test=2)
    assert d.X.dtype == np.float32 and d.X.flags.c_contiguous and (d.n_train, d.n_test) == (10, 2)
    np.testing.assert_array_equal(d.X, X32[:10])

    ds = load("digits", verbose=False)
    d = prepare(ds, n_train=1500, n_test=7)
    assert (d.name, d.image_shape, d.n_classes, d.n_train, d.n_test) == ("digits", (8, 8), 10, 1500, 7)
    assert d.X.dtype == np.float32 and np.shares_memory(d.X, ds.X_train)   # float32 is used as it is
    with pytest.raises(AttributeError):
        d.X = None                                                      # read-only


_X = np.random.default_rng(1).random((10, 4))
_Y = np.arange(10) % 3


@pytest.mark.parametrize("data, kwargs, words", [
    (42, {}, "expected a Dataset from explorer.load() or (X, y[, X_test, y_test]) arrays, got int"),
    ((_X, _Y, _X), {}, "got tuple"),
    ((_X[0], _Y), {}, "X_train has shape (4,); expected (n_samples, n_features)"),
    ((_X.astype(str), _Y), {}, "X_train has dtype <U"),
    ((_X + 1j, _Y), {}, "expected real numbers"),
    ((np.where(_X > 0.5, np.nan, _X), _Y), {}, "X_train contains NaN or inf"),
    ((_X, _Y, np.full((3, 4), np.inf), _Y[:3]), {}, "X_test contains NaN or inf"),
    ((_X, _Y[:, None]), {}, "y_train has shape (10, 1); expected one integer label per sample"),
    ((_X, _Y[:9]), {}, "y_train has 9 labels but there are 10 samples"),
    ((_X, _Y + 0.5), {}, "y_train must hold integer class labels"),
    ((_X, _Y, _X[:, :3], _Y), {}, "X_train has 4 features but X_test has 3"),
    ((_X[:0], _Y[:0]), {}, "the training set is empty"),
    ((_X, _Y, _X, _Y + 5), {}, "y_test has labels outside 0..2"),
    ((_X, -_Y), {}, "y_train has labels outside"),
    ((_X, _Y * 0), {}, "the data has 1 class; a classifier needs at least 2"),
    ((_X, _Y), dict(n_train=11), "n_train=11 but the data has 10 training samples; pass 1..10"),
    ((_X, _Y, _X[:3], _Y[:3]), dict(n_test=4), "n_test=4 but the data has 3 test samples; pass 1..3"),
    ((_X, _Y, _X[:0], _Y[:0]), dict(n_test=4), "n_test=4 but the data has no test samples; leave n_test out"),
    ((_X, _Y), dict(n_train=0), "n_train=0 but the data has 10 training samples; pass 1..10"),
    ((_X, _Y), dict(n_train=-1), "n_train must be a non-negative integer, got -1"),
    ((_X, _Y), dict(n_test=True), "n_test must be a non-negative integer, got True"),
])
def test_prepare_refuses_bad_input_in_one_line(data, kwargs, words):
    from explorer.data import prepare

    with pytest.raises(DataError) as info:
        prepare(data, **kwargs)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_prepare_refuses_more_samples_than_a_data_set_has():
    """Cutting silently made a run on 1,500 samples look like one on 100,000; load() errors, so must this."""
    from explorer.data import prepare

    digits = load("digits", verbose=False)
    with pytest.raises(DataError, match=r"^n_train=100000 but digits has 1,500 training samples; pass 1\.\.1500$"):
        prepare(digits, n_train=100_000)
    with pytest.raises(DataError, match=r"^n_test=300 but digits has 297 test samples; pass 1\.\.297$"):
        prepare(digits, n_test=300)


# ---------------------------------------------------------------- reported faults: each one line, saying what is wrong


def _zero_images(d):
    write_idx(d / IDX_NAMES[2], np.zeros((0, 28, 28)))


def _zero_labels(d):
    write_idx(d / IDX_NAMES[3], np.zeros(0))


def _empty_gz(d):
    (d / IDX_NAMES[1]).write_bytes(b"")


def _empty_plain(d):
    (d / IDX_NAMES[1]).unlink()
    (d / IDX_NAMES[1][:-3]).write_bytes(b"")


def _folder_instead(d):
    (d / IDX_NAMES[0]).unlink()
    (d / IDX_NAMES[0]).mkdir()


@pytest.mark.parametrize("damage, words", [
    (_zero_images, ["t10k-images-idx3-ubyte.gz declares 0 images", "explorer data fetch mnist"]),
    (_zero_labels, ["t10k-labels-idx1-ubyte.gz declares 0 labels"]),
    (_empty_gz, ["train-labels-idx1-ubyte.gz is empty (0 bytes)", "delete it"]),
    (_empty_plain, ["train-labels-idx1-ubyte is empty (0 bytes)"]),
    (_folder_instead, ["train-images-idx3-ubyte.gz is a folder, not a file"]),
])
def test_empty_and_misplaced_files_say_what_is_wrong(tmp_path, cache, damage, words):
    d = tmp_path / "mine"
    write_mnist(d)
    damage(d)
    with pytest.raises(DataError) as info:
        load("mnist", data_dir=d, download=False, verbose=False)
    message = str(info.value)
    assert all(w in message for w in words), message
    assert "\n" not in message and "bad magic" not in message and "gzip" not in message
    assert files_in(cache / "decoded") == []


def _without_read_override(unreadable: Path):
    """A command prefix under which this process cannot read the mode-000 file `unreadable`:
    none for a normal user; for root, setpriv dropping the capabilities that let root read anything."""
    prefix = []
    if os.geteuid() == 0:
        drop = "-dac_override,-dac_read_search"
        prefix = ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}"]
    try:
        probe = subprocess.run([*prefix, sys.executable, "-c", f"open({str(unreadable)!r}).read()"],
                               capture_output=True, text=True)
    except OSError:
        pytest.skip("running as root, and no setpriv to drop the capability to read any file")
    if "PermissionError" not in probe.stderr:
        pytest.skip("cannot make a file unreadable to this process (root without setpriv?)")
    return prefix


def test_an_unreadable_file_says_permission_denied(tmp_path, cache):
    d = tmp_path / "mine"
    write_mnist(d)
    (d / IDX_NAMES[2]).chmod(0)
    code = ("import sys; from explorer.data import load\n"
            "try: load('mnist', data_dir=sys.argv[1], download=False, verbose=False)\n"
            "except Exception as e: print(type(e).__name__, e)\n")
    out = subprocess.run([*_without_read_override(d / IDX_NAMES[2]), sys.executable, "-c", code, str(d)],
                         capture_output=True, text=True, env={**os.environ, "EXPLORER_CACHE": str(cache)})
    message = out.stdout.strip()
    assert message.startswith("DataError "), (message, out.stderr)
    assert "t10k-images-idx3-ubyte.gz: permission denied" in message and "chmod" in message
    assert "gzip" not in message and "delete it" not in message and "\n" not in message


def test_fetch_into_a_file_is_a_one_line_error(tmp_path, capsys):
    from explorer.cli import main

    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    for where in (a_file, a_file / "sub"):
        with pytest.raises(DataError, match="is a file, not a folder") as info:
            fetch("mnist", data_dir=where, progress=False)
        assert str(a_file) in str(info.value) and "\n" not in str(info.value)
    assert main(["data", "fetch", "mnist", "--data-dir", str(a_file)]) == 2
    err = capsys.readouterr().err.strip()
    assert "is a file, not a folder" in err and len(err.splitlines()) == 1
    assert a_file.read_text() == "not a folder"


def test_explorer_cache_pointing_at_a_file_is_a_one_line_error(tmp_path, monkeypatch, no_system, capsys):
    from explorer.cli import main
    from explorer.data import cache_dir

    a_file = tmp_path / "cache-file"
    a_file.write_text("")
    monkeypatch.setenv("EXPLORER_MIRRORS", closed_port_url())
    for value in (a_file, a_file / "sub"):
        monkeypatch.setenv("EXPLORER_CACHE", str(value))
        for call in (cache_dir, lambda: load("mnist", verbose=False), lambda: fetch("mnist", progress=False)):
            with pytest.raises(DataError, match="EXPLORER_CACHE.*is a file, not a folder") as info:
                call()
            assert "\n" not in str(info.value)
    assert main(["data", "list"]) == 2
    assert "EXPLORER_CACHE" in capsys.readouterr().err
