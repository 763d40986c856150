"""The data-set registry: adding a data set published as four IDX files is one DatasetSpec and
nothing else. The files are real (written here), and so is the mirror (HTTP on 127.0.0.1)."""

import hashlib

import numpy as np
import pytest
from data_util import idx_bytes, serve

from explorer.data import (
    CLASSES,
    DATASETS,
    REGISTRY,
    SHAPES,
    DatasetSpec,
    canonical_name,
    fetch,
    list_report,
    load,
    register,
    unregister,
)
from explorer.errors import DataError

NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
KANA = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    for var in ("EXPLORER_DATA", "EXPLORER_MIRRORS"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "system").mkdir()
    monkeypatch.setenv("EXPLORER_SYSTEM_DATA", str(tmp_path / "system"))
    monkeypatch.setenv("EXPLORER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def idx_set(shape, n_classes, n_train=40, n_test=12, seed=7):
    """{file name: gzipped IDX bytes} of a small data set, and its four arrays."""
    rng = np.random.default_rng(seed)
    arrays = (rng.integers(0, 256, (n_train, *shape)), rng.integers(0, n_classes, n_train),
              rng.integers(0, 256, (n_test, *shape)), rng.integers(0, n_classes, n_test))
    return {name: idx_bytes(a) for name, a in zip(NAMES, arrays)}, arrays


@pytest.fixture
def mirror():
    """An HTTP server on 127.0.0.1 serving `routes` (path -> bytes); yields (base URL, routes)."""
    routes = {}
    with serve(routes) as url:
        yield url, routes


@pytest.fixture
def registered():
    """register() for one test: whatever it adds is removed afterwards."""
    added = []

    def add(spec, **kw):
        added.append(register(spec, **kw).name)
        return spec

    yield add
    for name in added:
        if name in REGISTRY:
            unregister(name)


@pytest.mark.parametrize("name, shape, classes", [("kmnist", (28, 28), KANA), ("tiny", (6, 5), ("a", "b", "c"))])
def test_a_new_idx_data_set_is_one_registry_entry(tmp_path, cache, mirror, registered, name, shape, classes):
    blobs, (Xtr, ytr, Xte, yte) = idx_set(shape, len(classes))
    url, routes = mirror
    routes.update({f"/{name}/{f}": b for f, b in blobs.items()})
    local = tmp_path / "mine" / name
    local.mkdir(parents=True)
    for f, b in blobs.items():
        (local / f).write_bytes(b)

    # ---- the whole addition: one spec ----
    registered(DatasetSpec(
        name, "idx", shape, classes,
        files={f: hashlib.sha256(b).hexdigest() for f, b in blobs.items()},
        mirrors=(f"{url}/{name}/",), size="1 kB", aliases=(f"{name}-idx",)))

    assert name in DATASETS and CLASSES[name] == classes and SHAPES[name] == shape
    assert canonical_name(f"{name.upper()}-IDX") == name

    ds = load(name, data_dir=tmp_path / "mine", download=False, verbose=False)
    assert ds.name == name and ds.image_shape == shape and ds.classes == list(classes)
    np.testing.assert_array_equal(ds.X_train, (Xtr.reshape(len(Xtr), -1) / 255).astype(np.float32))
    np.testing.assert_array_equal(ds.y_test, yte)
    assert ds.n_classes == len(classes) and ds.source == str(local)

    line = next(line for line in list_report().splitlines() if line.startswith(name + " "))
    assert f"explorer data fetch {name}" in line and "1 kB" in line and url in line

    folder = fetch(name, progress=False)                   # download and verify from the spec's mirror
    assert folder == cache / name and sorted(p.name for p in folder.iterdir()) == sorted(NAMES)
    again = load(name, download=False, verbose=False, n_train=10)
    assert again.source == str(folder)
    np.testing.assert_array_equal(again.y_train, ytr[:10])


def test_a_mirror_serving_other_bytes_is_refused(mirror, registered, cache):
    blobs, _ = idx_set((28, 28), 10)
    url, routes = mirror
    routes.update({f"/x/{f}": b[::-1] for f, b in blobs.items()})
    registered(DatasetSpec("kmnist", "idx", (28, 28), KANA, mirrors=(f"{url}/x/",),
                           files={f: hashlib.sha256(b).hexdigest() for f, b in blobs.items()}))
    with pytest.raises(DataError, match="does not match the published hash, refused"):
        fetch("kmnist", progress=False)
    assert list((cache / "kmnist").iterdir()) == []


def test_unregister_forgets_the_name(registered):
    spec = registered(DatasetSpec("kmnist", "idx", (28, 28), KANA, files=dict.fromkeys(NAMES, ())))
    assert unregister("kmnist") is spec
    assert "kmnist" not in DATASETS and "kmnist" not in CLASSES
    with pytest.raises(DataError, match="unknown data set 'kmnist'"):
        load("kmnist")


def test_a_spec_without_a_download_loads_locally_and_says_so(tmp_path, registered):
    blobs, _ = idx_set((28, 28), 10)
    for f, b in blobs.items():
        (tmp_path / f).write_bytes(b)
    registered(DatasetSpec("kmnist", "idx", (28, 28), KANA, files=dict.fromkeys(NAMES, ())))
    assert load("kmnist", data_dir=tmp_path, verbose=False).n_train == 40
    assert "pass it as data_dir" in next(x for x in list_report().splitlines() if x.startswith("kmnist"))
    with pytest.raises(DataError, match="no published download"):
        fetch("kmnist")


@pytest.mark.parametrize("kwargs, words", [
    (dict(name="mnist"), "'mnist' is already taken"),
    (dict(aliases=("fmnist",)), "'fmnist' is already taken"),
    (dict(name="auto"), "'auto' is reserved"),
    (dict(name="KMNIST"), "lower-case"),
    (dict(format="hdf5"), "format='hdf5'"),
    (dict(image_shape=(28, 0)), "image_shape"),
    (dict(classes=("only",)), "at least 2"),
    (dict(files={"a.gz": "0" * 64}), "lists 4 files"),
    (dict(files=dict.fromkeys(NAMES, "not-a-hash")), "SHA-256"),
])
def test_bad_specs_are_one_line_errors(kwargs, words, registered):
    base = dict(name="kmnist", format="idx", image_shape=(28, 28), classes=KANA,
                files=dict.fromkeys(NAMES, "0" * 64))
    with pytest.raises(DataError, match=words) as info:
        registered(DatasetSpec(**{**base, **kwargs}))
    assert "\n" not in str(info.value)
    assert list(DATASETS) == ["mnist", "fashion-mnist", "cifar10", "digits", "random"]


def test_built_in_specs():
    assert list(DATASETS) == ["mnist", "fashion-mnist", "cifar10", "digits", "random"]
    assert REGISTRY["mnist"].pickle == "mnist.pkl.gz" and REGISTRY["cifar10"].n_features == 3072
    assert all(len(h) >= 1 for spec in REGISTRY.values() for h in spec.files.values())
    with pytest.raises(TypeError):
        REGISTRY["mnist"].files["x"] = ("0" * 64,)          # read-only
    with pytest.raises(AttributeError):
        REGISTRY["mnist"].size = "1 GB"                      # frozen
