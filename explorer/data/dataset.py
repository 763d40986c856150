"""`load(name)` -> `Dataset`: find or download the files, decode (or reuse the cache), split.

`load` returns float32 inputs in [0, 1], flattened to (n, features), and int64 labels. Names
are those in the registry ("mnist", "fashion-mnist", "cifar10", "digits", "random", and any
registered later, or an alias) or "auto".

Safety: hashes (SHA-256) are checked for files in the cache, i.e. files this package
downloaded; a cached file with a wrong hash is deleted and fetched again once, then refused.
Files elsewhere are checked structurally by the decoders.

digits: scikit-learn's 8x8 digits divided by 16; the first 1,500 are train, the last 297 test.
random: the control; uniform float32 inputs and uniform labels with MNIST's shape
(60,000/10,000 x 784, 10 classes), generated in seeded blocks of 1,024 rows so a subset costs
only its own rows and equals the start of the full set.

Splits (applied in this order): `heldout="post"` is the post's protocol on MNIST-shaped data:
train = training samples 0..39,999, test = training samples 40,000..40,499 (the official test
set is not used). `validation=n` instead takes the last n training samples as the test set and
trains on the rest. Then `n_train`/`n_test` keep the first n of each part.

`auto`: MNIST if it is on this machine, or if `download` is true and a mirror answers a HEAD
request within 3 s (the probe runs in a thread so offline DNS cannot hang it); else
Fashion-MNIST if it is on this machine; else digits. It prints one line (stderr) saying which.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from explorer.data import decode, own, registry, sources
from explorer.data.checks import count
from explorer.data.openml import is_openml_name, load_openml, openml_key
from explorer.data.registry import REGISTRY, DatasetSpec, canonical_name, spec_of
from explorer.data.tables import changed, is_file_name, load_file, sha256_of, upload
from explorer.errors import DataError

_POST_TRAIN, _POST_TEST = 40_000, 500


@dataclass(repr=False)
class Dataset:
    """Inputs flattened to (n, n_features) float32 in [0, 1]; labels int64 in 0..n_classes-1.

    `Dataset.from_arrays(X, y, ...)` makes one from your arrays (own.py: the checks, the label
    mapping, the split and the scaling it records); `load("file.csv")` from a file (tables.py)."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple | None   # one sample as an image; None: tabular features (views draw bars)
    classes: list = field(default_factory=list)
    source: str = ""
    chosen_because: str = ""  # why load("auto") chose this data set ("" when it was named)
    feature_names: list | None = None   # one per input; None for the registry's images
    scaling: dict = field(default_factory=dict)  # how from_arrays scaled the inputs (own.py)
    sha256: str = ""            # of the file it was read from ("" otherwise)

    @classmethod
    def from_arrays(cls, X, y, X_test=None, y_test=None, *, name="arrays", classes=None, image_shape=None,
                    feature_names=None, test_fraction=0.2, seed=0, scale="minmax", shuffle=True,
                    copy=True) -> Dataset:
        """Your arrays, checked, labels mapped to classes, split (without X_test: a seeded random
        `test_fraction` of the rows), shuffled and scaled (min-max per feature, fit on the training
        part; recorded in `scaling`); own.py states each rule. One DataError line for bad input."""
        return cls(**own.from_arrays(X, y, X_test, y_test, name=name, classes=classes, image_shape=image_shape,
                                     feature_names=feature_names, test_fraction=test_fraction, seed=seed,
                                     scale=scale, shuffle=shuffle, copy=copy))

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def n_train(self) -> int:
        return self.X_train.shape[0]

    @property
    def n_test(self) -> int:
        return self.X_test.shape[0]

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={self.n_train}x{self.n_features}, "
                f"test={self.n_test}, classes={self.n_classes}, source={self.source!r})")


# ---------------------------------------------------------------- stored arrays


def _raw(spec: DatasetSpec, data_dir, download: bool, verbose: bool):
    """Decoded (X_train, y_train, X_test, y_test) in their stored dtypes, and the source."""
    name = spec.name
    found = sources.find_local(spec, data_dir)
    if found is None:
        if not download:
            raise _not_found(name, data_dir, "download=False")
        try:
            folder = sources.fetch(name, progress=verbose)
        except sources.DownloadFailed as exc:
            raise _not_found(name, data_dir, "download failed: " + "; ".join(exc.failures)) from None
        found = ("cache", folder, *sources.find_in(spec, folder, "cache"))
    kind, folder, fmt, files = found
    cache = sources.cache_dir()
    entry = decode.cache_entry(cache, name, files)
    arrays = decode.read_entry(entry)
    if arrays is None:
        if kind == "cache":     # files we downloaded: check their hashes before trusting them
            for path in files.values() if fmt != "pkl" else ():
                if path.name in spec.files and sources.sha256(path, name) not in spec.files[path.name]:
                    if not download:
                        raise DataError(f"{path}: SHA-256 does not match the published hash; delete it and "
                                        f"run `explorer data fetch {name}`")
                    sources.download(spec, path.name, folder, sources.mirrors_of(spec), verbose)
            entry = decode.cache_entry(cache, name, files)
        arrays = decode.decode(spec, fmt, files)
        decode.write_entry(entry, arrays)
    source = files["tar"] if fmt == "cifar-tar" else files["pkl"] if fmt == "pkl" else folder
    return arrays, str(source)


def _not_found(name, data_dir, why):
    try:
        searched = [str(p) for _, p in sources.places(name, data_dir)]
    except DataError:
        searched = []
    return DataError(f"{name} not found (searched {', '.join(searched)}; {why}); run "
                     f"`explorer data fetch {name}` with a network, or use --dataset digits")


def _digits(spec: DatasetSpec):
    from sklearn.datasets import load_digits

    digits = load_digits()
    X, y = (digits.data / 16).astype(np.float32), digits.target.astype(np.int64)
    cut = spec.n_samples[0]
    return [X[:cut], y[:cut], X[cut:], y[cut:]], "sklearn.datasets.load_digits"


def _random_rows(spec: DatasetSpec, seed: int, split: int, start: int, stop: int):
    """Rows start..stop of the random control set; blocks of 1,024 rows have their own seed."""
    B, F, C = 1024, spec.n_features, spec.n_classes
    Xs, ys = [], []
    for block in range(start // B, -(-stop // B)):
        rng = np.random.default_rng([seed, split, block])
        X = rng.random((B, F), dtype=np.float32)
        y = rng.integers(0, C, B, dtype=np.int64)
        lo, hi = max(start - block * B, 0), min(stop - block * B, B)
        Xs.append(X[lo:hi])
        ys.append(y[lo:hi])
    if not Xs:
        return np.zeros((0, F), np.float32), np.zeros(0, np.int64)
    return np.concatenate(Xs), np.concatenate(ys)


def _to_float(X: np.ndarray) -> np.ndarray:
    if X.dtype == np.uint8:
        out = X.astype(np.float32)
        out /= np.float32(255)       # divide, not multiply by 1/255: 255 maps to exactly 1.0
        return out
    return np.ascontiguousarray(X, dtype=np.float32)


# ---------------------------------------------------------------- splits


def _plan(name, n_total_train, n_total_test, n_train, n_test, heldout, validation):
    """((part, start, stop) for train, same for test); part is 'train' or 'test'."""
    if heldout is not None:
        if heldout != "post":
            raise DataError(f"heldout must be None or 'post', got {heldout!r}")
        if validation:
            raise DataError("heldout='post' and validation= both choose the test set; pass only one")
        if n_total_train < _POST_TRAIN + _POST_TEST:
            raise DataError(f"heldout='post' needs 40,500 training samples of MNIST-shaped data; {name} "
                            f"has {n_total_train}; use validation= instead")
        train, test = ("train", 0, _POST_TRAIN), ("train", _POST_TRAIN, _POST_TRAIN + _POST_TEST)
    elif validation:
        if validation >= n_total_train:
            raise DataError(f"validation={validation} leaves no training samples ({name} has "
                            f"{n_total_train}); pass a smaller number")
        cut = n_total_train - validation
        train, test = ("train", 0, cut), ("train", cut, n_total_train)
    else:
        train, test = ("train", 0, n_total_train), ("test", 0, n_total_test)
    out = []
    for (part, lo, hi), n, what in ((train, n_train, "n_train"), (test, n_test, "n_test")):
        if n is not None:
            if n == 0 or n > hi - lo:
                raise DataError(f"{what}={n} but {name} has {hi - lo} samples in that part; "
                                f"pass 1..{hi - lo}")
            hi = lo + n
        out.append((part, lo, hi))
    return out


def _choose_auto(data_dir, download, verbose) -> tuple[str, str]:
    how = "get MNIST with `explorer data fetch mnist`"
    mnist, fashion = REGISTRY["mnist"], REGISTRY["fashion-mnist"]
    if sources.find_local(mnist, data_dir):
        choice, why = "mnist", "found on this machine"
    elif download and sources.reachable(mnist):
        choice, why = "mnist", "downloading it"
    elif sources.find_local(fashion, data_dir):
        offline = " and no mirror answered" if download else ""
        choice, why = "fashion-mnist", f"MNIST is not on this machine{offline}; {how}"
    else:
        choice, why = "digits", f"neither MNIST nor Fashion-MNIST is on this machine; {how}"
    if verbose:
        print(f"explorer: data set 'auto' -> {choice} ({why})", file=sys.stderr)
    return choice, why


# ---------------------------------------------------------------- public


def kind_of(name) -> str:
    """'file' (a .csv/.npz path), 'openml' (openml:NAME_OR_ID), 'auto' or 'registry' (a registered
    name or alias); DataError for anything else."""
    if isinstance(name, Path) or is_file_name(name):
        return "file"
    if is_openml_name(name):
        return "openml"
    return "auto" if canonical_name(name) == "auto" else "registry"


def dataset_name(name) -> str:
    """The canonical form of a data set name: registry names canonical, openml:KEY stripped,
    a file's path as given."""
    kind = kind_of(name)
    if kind == "file":
        return str(name).strip()
    return openml_key(name) if kind == "openml" else canonical_name(name)


_SIZES: dict = {}   # a file's (or OpenML set's) key -> (inputs, classes), found by loading it once


def io_sizes(name, data_dir=None, *, label_column=None, sha256=None) -> tuple[int, int]:
    """(inputs, classes) of a data set: the registry's from its spec ('auto' as MNIST's, the
    largest it picks), a file's or OpenML's by loading it (once per file version in a process):
    what a run's memory and a comparison's budget are sized by."""
    kind = kind_of(name)
    if kind in ("auto", "registry"):
        return registry.io_sizes(name)
    key = (dataset_name(name), label_column, sha256)
    if kind == "file":
        p = Path(key[0]).expanduser()
        st = p.stat() if p.is_file() else None
        key += (str(p.resolve()), st and st.st_size, st and st.st_mtime_ns)
    if key not in _SIZES:
        ds = load(name, data_dir, label_column=label_column, sha256=sha256, verbose=False)
        _SIZES[key] = (ds.n_features, ds.n_classes)
    return _SIZES[key]


_SESSION: dict = {}  # the files and OpenML sets checked configs named in this process, in order


def session_datasets() -> tuple:
    """The files and OpenML data sets that a checked config (check_data_settings) named in this
    process: what the dashboard's data set menu offers besides the registry's."""
    return tuple(_SESSION)


def check_data_settings(name, data_dir, label_column, sha256) -> None:
    """The settings that go with a data set's kind (RunConfig.validate): label_column with a CSV,
    sha256 (64 hex digits) with a file, data_dir with the registry's; DataError otherwise. A file or
    OpenML name that passes is remembered for this session (session_datasets)."""
    kind = kind_of(name)
    if label_column is not None and not str(name).strip().lower().endswith(".csv"):
        raise DataError(f"label_column={label_column!r} picks a CSV file's label column; {name!r} is not a .csv file")
    if sha256 is not None and (kind != "file" or not re.fullmatch(r"[0-9a-f]{64}", str(sha256))):
        raise DataError(f"dataset_sha256={sha256!r}: expected the 64 hex digits of a dataset file's SHA-256 (and "
                        f"dataset naming that file)")
    if data_dir is not None and kind in ("file", "openml"):
        raise DataError(f"data_dir is where the registry's data sets are looked for; {name} is read from its "
                        f"{'path' if kind == 'file' else 'OpenML cache'}: leave data_dir out")
    if kind in ("file", "openml"):
        _SESSION[dataset_name(name)] = None


def pinned_sha256(name, recorded, dataset=None):
    """The SHA-256 a config naming `name` records: None unless it is a file; the hash of the file
    `dataset` was read from (or of the file itself); DataError if `recorded` differs."""
    if kind_of(name) != "file":
        return recorded
    digest = getattr(dataset, "sha256", "") if dataset is not None else sha256_of(name)
    if digest and recorded not in (None, digest):
        raise DataError(changed(str(name), digest, recorded))
    return digest or recorded


def _own(name, kind, data_dir, heldout, seed, label_column, sha256, test_fraction) -> Dataset:
    """A file's or OpenML's data set, whole (the splits of load() come after)."""
    check_data_settings(name, data_dir, label_column, sha256)
    if heldout is not None:
        raise DataError(f"heldout='post' is the post's protocol for MNIST-shaped data, not {name}; use validation= "
                        f"instead")
    if kind == "openml":
        if label_column is not None or sha256 is not None:
            raise DataError(f"label_column and sha256 are for data files; {name} comes from OpenML")
        return Dataset(**load_openml(name, seed=seed, test_fraction=test_fraction))
    return Dataset(**load_file(name, label_column=label_column, sha256=sha256, seed=seed, test_fraction=test_fraction))


def from_upload(name: str, content: bytes, label_column=None, *, seed=0, test_fraction=0.2) -> Dataset:
    """An uploaded .csv or .npz file (its name as uploaded and its bytes) as a Dataset, read like
    load(path) reads one (tables.py), or one DataError line: files over MAX_UPLOAD_BYTES are
    refused before anything is parsed. For the dashboard's upload control."""
    return Dataset(**upload(name, content, label_column, seed=seed, test_fraction=test_fraction))


def load(name="auto", data_dir=None, *, n_train=None, n_test=None, heldout=None, validation=0,
         seed=0, download=True, verbose=True, label_column=None, sha256=None, test_fraction=0.2) -> Dataset:
    """Load a data set by name, or a .csv/.npz file by path, or openml:NAME_OR_ID; see the module
    docstrings for places, formats and splits (tables.py and openml.py for files and OpenML,
    where `seed` and `test_fraction` choose the test set, `label_column` a CSV's labels, and
    `sha256` refuses a file whose hash differs)."""
    kind = kind_of(name)
    if kind in ("file", "openml"):
        n_train, n_test = count(n_train, "n_train"), count(n_test, "n_test")
        validation = count(validation, "validation") or 0
        ds = _own(dataset_name(name), kind, data_dir, heldout, seed, label_column, sha256, test_fraction)
        (_, a, b), (_, c, d) = _plan(ds.name, ds.n_train, ds.n_test, n_train, n_test, None, validation)
        if validation:  # both parts are slices of the training part
            X, y = ds.X_train, ds.y_train
            return dataclasses.replace(ds, X_train=X[a:b], y_train=y[a:b], X_test=X[c:d], y_test=y[c:d])
        return dataclasses.replace(ds, X_train=ds.X_train[a:b], y_train=ds.y_train[a:b], X_test=ds.X_test[c:d],
                                   y_test=ds.y_test[c:d])
    if label_column is not None or sha256 is not None:
        raise DataError(f"label_column and sha256 are for data files (.csv, .npz), not {name!r}")
    name = canonical_name(name)
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise DataError(f"data_dir must be a folder path (text), got {type(data_dir).__name__}")
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():  # even where it is not read (digits)
        raise DataError(f"data_dir {str(data_dir)!r} is not a folder; pass an existing folder or leave it out")
    n_train, n_test = count(n_train, "n_train"), count(n_test, "n_test")
    validation = count(validation, "validation") or 0
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed!r}")
    if heldout is not None and name != "auto" and not REGISTRY[name].mnist_shaped:
        raise DataError(f"heldout='post' is the post's protocol for MNIST-shaped data, not {name}; "
                        f"use validation= instead")
    why = ""
    if name == "auto":
        name, why = _choose_auto(data_dir, download, verbose)
    spec = spec_of(name)

    if spec.format == "generated":
        plan = _plan(name, *spec.n_samples, n_train, n_test, heldout, validation)
        parts = [_random_rows(spec, int(seed), 0 if part == "train" else 1, lo, hi) for part, lo, hi in plan]
        source = f"generated (seed {seed})"
    else:
        if spec.format == "sklearn-digits":
            arrays, source = _digits(spec)
        else:
            arrays, source = _raw(spec, data_dir, download, verbose)
        stored = {"train": arrays[:2], "test": arrays[2:]}
        plan = _plan(name, len(arrays[0]), len(arrays[2]), n_train, n_test, heldout, validation)
        parts = [(_to_float(stored[p][0][lo:hi]), stored[p][1][lo:hi].astype(np.int64)) for p, lo, hi in plan]
    (X_train, y_train), (X_test, y_test) = parts
    return Dataset(name, X_train, y_train, X_test, y_test, spec.image_shape, list(spec.classes), source, why)


_NO_FILES = {"sklearn-digits": "available: bundled with scikit-learn (offline)",
             "generated": "available: generated from a seed (the control data set)"}


def _status(spec: DatasetSpec, data_dir) -> str:
    """One data set's line in `explorer data list`, after its name."""
    if spec.format in _NO_FILES:
        return _NO_FILES[spec.format]
    try:
        found = sources.find_local(spec, data_dir)
    except DataError as exc:
        return f"broken: {exc}"
    if found:
        kind, folder, _, files = found
        where = files.get("tar") or files.get("pkl") or folder
        return f"available: {where} ({'downloaded copy' if kind == 'cache' else kind + ' copy'})"
    if spec.downloadable:
        return (f"not on this machine; `explorer data fetch {spec.name}` downloads it "
                f"({spec.size or 'size unknown'}) from {sources.mirrors_of(spec)[0]}")
    return "not on this machine; put its files in a folder and pass it as data_dir"


def list_report(data_dir=None) -> str:
    """What `explorer data list` prints: each data set, whether it is available and from where."""
    lines = [f"{name:<14} {_status(spec, data_dir)}" for name, spec in REGISTRY.items()]
    lines.append(f"searched: data_dir, $EXPLORER_DATA, cache {sources.cache_dir()}, system {sources.system_dir()}")
    return "\n".join(lines)
