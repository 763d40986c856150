"""Data sets: find, download, verify, decode and split them; nothing else.

`load(name)` returns a `Dataset` of float32 inputs in [0, 1], flattened to (n, features),
and int64 labels. Names: "mnist", "fashion-mnist", "cifar10", "digits", "random", "auto".

Where files are looked for, in order (the first complete copy wins):
  1. `data_dir=` given to `load`: `data_dir/<name>/`, then `data_dir/` itself (so a folder
     holding the four IDX files loads under whichever name you ask for; `source` says where).
     A `data_dir` that does not exist is an error, not a silent fall-through.
  2. `$EXPLORER_DATA` (one or more folders, `os.pathsep`-separated): `<folder>/<name>/`.
  3. The user cache, `$EXPLORER_CACHE` or `pooch.os_cache("explorer")`: `<cache>/<name>/`.
  4. System copies: `/usr/share/datasets/<name>/` (Debian's `dataset-fashion-mnist`);
     `$EXPLORER_SYSTEM_DATA` replaces `/usr/share/datasets` (tests, other distributions).
  5. Download into the cache with pooch from the mirrors below, tried in order;
     `$EXPLORER_MIRRORS` (or `fetch(..., mirrors=)`) replaces them: base URLs separated by
     spaces or commas, `{name}` in one is replaced by the data set name, the file name is
     appended.

Formats: mnist and fashion-mnist as the four IDX files (`.gz` or plain); mnist also as the
post's `mnist.pkl.gz`, whose train (50,000) and valid (10,000) parts are joined back into the
standard 60,000-sample training set in order. cifar10 as the `cifar-10-batches-py` folder or
`cifar-10-python.tar.gz` (read in place, never extracted); images become (32, 32, 3), HWC.
digits: scikit-learn's 8x8 digits divided by 16; the first 1,500 are train, the last 297 test.
random: the control; uniform float32 inputs and uniform labels with MNIST's shape
(60,000/10,000 x 784, 10 classes), generated in seeded blocks of 1,024 rows so a subset costs
only its own rows and equals the start of the full set.

Splits (applied in this order): `heldout="post"` is the post's protocol on MNIST-shaped data:
train = training samples 0..39,999, test = training samples 40,000..40,499 (the official test
set is not used). `validation=n` instead takes the last n training samples as the test set and
trains on the rest. Then `n_train`/`n_test` keep the first n of each part.

Safety: hashes (SHA-256) are checked for files in the cache, i.e. files this module
downloaded; a cached file with a wrong hash is deleted and fetched again once, then refused.
Files elsewhere are checked structurally (IDX magic, dimensions, byte count, counts, label
range). Pickles go through `_SafeUnpickler`, which can build numpy arrays and nothing else.
Downloads land in a pooch temporary file, are renamed to `<file>.<pid>.part`, hashed, and only
then renamed to their real name; a failure or wrong hash moves on to the next mirror, and when
every mirror failed nothing is left behind.

Speed: decoded arrays are cached in `<cache>/decoded/` as uncompressed .npz keyed by the
source files' path, size and mtime (written atomically); a valid entry skips both decoding
and re-hashing. Nothing is ever written to a `data_dir` or system folder (except by an
explicit `fetch(name, data_dir)`).

`auto`: MNIST if it is on this machine, or if `download` is true and a mirror answers a HEAD
request within 3 s (the probe runs in a thread so offline DNS cannot hang it); else
Fashion-MNIST if it is on this machine; else digits. It prints one line (stderr) saying which.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import struct
import sys
import tarfile
import tempfile
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from explorer.errors import DataError

DATASETS = ("mnist", "fashion-mnist", "cifar10", "digits", "random")
_ALIASES = {"fashion": "fashion-mnist", "fmnist": "fashion-mnist", "fashion_mnist": "fashion-mnist",
            "cifar-10": "cifar10", "cifar_10": "cifar10"}
_DIGITS = [str(i) for i in range(10)]
CLASSES = {
    "mnist": _DIGITS, "digits": _DIGITS, "random": _DIGITS,
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                "truck"],
}
SHAPES = {"mnist": (28, 28), "fashion-mnist": (28, 28), "random": (28, 28),
          "cifar10": (32, 32, 3), "digits": (8, 8)}
_IDX = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_CIFAR_TAR = "cifar-10-python.tar.gz"
_CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]

# Published SHA-256 of the files we download. Any listed hash is accepted.
#  mnist: TensorFlow Datasets, tensorflow_datasets/url_checksums/mnist.txt.
#  fashion-mnist: first the upstream files (TFDS url_checksums/fashion_mnist.txt), then
#    Debian's dataset-fashion-mnist copies (sha256sum of /usr/share/datasets/fashion-mnist/*).
#    Debian's are not byte-identical to upstream: their gzip headers store no file name, which
#    accounts for the whole size difference (23-24 bytes, e.g. 26421880 vs 26421856).
#  cifar10: Keras, keras/datasets/cifar10.py (md5 c58f30108f718f92721af3b95e74349a in
#    torchvision agrees on the same file).
HASHES = {
    "mnist": {
        "train-images-idx3-ubyte.gz": ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",),
        "train-labels-idx1-ubyte.gz": ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",),
        "t10k-images-idx3-ubyte.gz": ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",),
        "t10k-labels-idx1-ubyte.gz": ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": ("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                                       "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"),
        "train-labels-idx1-ubyte.gz": ("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                                       "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"),
        "t10k-images-idx3-ubyte.gz": ("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                                      "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"),
        "t10k-labels-idx1-ubyte.gz": ("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                                      "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"),
    },
    "cifar10": {_CIFAR_TAR: ("6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",)},
}
MIRRORS = {
    "mnist": ("https://storage.googleapis.com/cvdf-datasets/mnist/",   # TFDS
              "https://ossci-datasets.s3.amazonaws.com/mnist/",         # torchvision
              "http://yann.lecun.com/exdb/mnist/"),                     # the original
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                      "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
    "cifar10": ("https://www.cs.toronto.edu/~kriz/",),
}
_SIZES = {"mnist": "11 MB", "fashion-mnist": "30 MB", "cifar10": "163 MB"}
_TIMEOUT = (5, 60)      # requests (connect, read) seconds
_PROBE_SECONDS = 3.0
_CACHE_FORMAT = 1       # bump to invalidate every decoded-array cache entry
_POST_TRAIN, _POST_TEST = 40_000, 500


@dataclass(repr=False)
class Dataset:
    """Inputs flattened to (n, n_features) float32 in [0, 1]; labels int64 in 0..n_classes-1."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple
    classes: list = field(default_factory=list)
    source: str = ""

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


# ---------------------------------------------------------------- places


def canonical_name(name) -> str:
    """The data set's canonical name ('fmnist' -> 'fashion-mnist'); DataError if unknown."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in DATASETS and key != "auto":
        raise DataError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)} or 'auto'")
    return key


def cache_dir() -> Path:
    """`$EXPLORER_CACHE`, else the per-user cache folder pooch picks for 'explorer'."""
    env = os.environ.get("EXPLORER_CACHE")
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("explorer"))


def _mirrors(name: str, mirrors=None) -> list[str]:
    if mirrors is None and os.environ.get("EXPLORER_MIRRORS"):
        mirrors = os.environ["EXPLORER_MIRRORS"].replace(",", " ").split()
    if mirrors is None:
        mirrors = MIRRORS[name]
    if isinstance(mirrors, str):
        mirrors = [mirrors]
    return [m.replace("{name}", name) for m in mirrors]


def _places(name: str, data_dir=None) -> list[tuple[str, Path]]:
    """(kind, folder) pairs to search, in order; kind is 'user', 'cache' or 'system'."""
    places = []
    if data_dir is not None:
        d = Path(data_dir).expanduser()
        if not d.is_dir():
            raise DataError(f"data_dir {str(d)!r} is not a folder; pass an existing folder or leave it out")
        places += [("user", d / name), ("user", d)]
    for entry in os.environ.get("EXPLORER_DATA", "").split(os.pathsep):
        if entry:
            places.append(("user", Path(entry).expanduser() / name))
    places.append(("cache", cache_dir() / name))
    system = os.environ.get("EXPLORER_SYSTEM_DATA", "/usr/share/datasets")
    places.append(("system", Path(system) / name))
    return places


def _find_in(name: str, folder: Path, kind: str):
    """The files of `name` in `folder` as (format, {role: path}), or None if absent."""
    if not folder.is_dir():
        return None
    if name == "cifar10":
        for sub in (folder / "cifar-10-batches-py", folder):
            files = {b: sub / b for b in _CIFAR_BATCHES}
            present = [b for b, p in files.items() if p.is_file()]
            if len(present) == len(files):
                return "cifar-folder", files
            if present and kind != "cache":
                missing = ", ".join(b for b in _CIFAR_BATCHES if b not in present)
                raise DataError(f"cifar10 in {sub} is incomplete (missing {missing}); add the missing "
                                f"batches or delete the folder and run `explorer data fetch cifar10`")
        tar = folder / _CIFAR_TAR
        return ("cifar-tar", {"tar": tar}) if tar.is_file() else None
    files, missing = {}, []
    for base in _IDX:
        hit = next((p for p in (folder / (base + ".gz"), folder / base) if p.is_file()), None)
        if hit is None:
            missing.append(base + ".gz")
        else:
            files[base] = hit
    if not missing:
        return "idx", files
    if name == "mnist" and (folder / "mnist.pkl.gz").is_file():
        return "pkl", {"pkl": folder / "mnist.pkl.gz"}
    if files and kind != "cache":   # a half-finished fetch in the cache is simply resumed
        raise DataError(f"{name} in {folder} is incomplete (missing {', '.join(missing)}); add the "
                        f"missing files or delete them and run `explorer data fetch {name}`")
    return None


def _find_local(name: str, data_dir=None):
    """(kind, folder, format, files) of the first complete local copy, or None."""
    for kind, folder in _places(name, data_dir):
        found = _find_in(name, folder, kind)
        if found:
            return kind, folder, *found
    return None


# ---------------------------------------------------------------- download


def _sha256(path: Path) -> str:
    import pooch

    return pooch.file_hash(str(path), alg="sha256")


def _why(exc: BaseException) -> str:
    """A few words for a failed request (requests' messages run to several lines)."""
    response = getattr(exc, "response", None)
    if response is not None and getattr(response, "status_code", None):
        return f"HTTP {response.status_code}"
    kind = type(exc).__name__
    return {"ConnectionError": "cannot connect", "ConnectTimeout": "timed out", "ReadTimeout": "timed out",
            "ChunkedEncodingError": "cut off mid-download"}.get(kind, kind)


class _DownloadFailed(DataError):
    def __init__(self, message, failures):
        super().__init__(message)
        self.failures = failures


def _download(name: str, fname: str, folder: Path, mirrors: list[str], progress: bool) -> Path:
    import logging

    import pooch
    import requests

    final, part = folder / fname, folder / f"{fname}.{os.getpid()}.part"   # pid: parallel fetches
    accepted = HASHES[name][fname]
    if final.exists():
        if _sha256(final) in accepted:
            return final
        final.unlink()      # a wrong cached copy is fetched again once, below, then refused
    failures = []
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)    # pooch logs every download at INFO; we print our own line
    try:
        for base in mirrors:
            url = base.rstrip("/") + "/" + fname
            part.unlink(missing_ok=True)
            if progress:
                print(f"explorer: downloading {name} {fname} from {url}", file=sys.stderr)
            try:
                # pooch streams into a temporary file in `folder` and renames it to `part` only
                # when complete; known_hash=None because we accept several hashes (see HASHES).
                pooch.retrieve(url, known_hash=None, fname=part.name, path=folder,
                               downloader=pooch.HTTPDownloader(progressbar=progress, timeout=_TIMEOUT))
            except (requests.RequestException, OSError) as exc:
                failures.append(f"{url}: {_why(exc)}")
                continue
            digest = _sha256(part)
            if digest in accepted:
                os.replace(part, final)
                return final
            part.unlink()
            failures.append(f"{url}: SHA-256 {digest[:12]}... does not match the published hash, refused")
    finally:
        logger.setLevel(level)
        part.unlink(missing_ok=True)
    why = "; ".join(failures) or "no mirrors"
    raise _DownloadFailed(f"{name}: could not download {fname} ({why}); check "
                          f"the network and run `explorer data fetch {name}` again, or use --dataset digits",
                          failures)


def fetch(name, data_dir=None, progress=True, *, mirrors=None) -> Path:
    """Download `name` into the cache (or into `data_dir/<name>/`), verify it, return the folder."""
    name = canonical_name(name)
    if name not in HASHES:
        how = "bundled with scikit-learn" if name == "digits" else "generated"
        raise DataError(f"{name!r} needs no download ({how}); load it with load({name!r})")
    folder = (Path(data_dir).expanduser() if data_dir is not None else cache_dir()) / name
    folder.mkdir(parents=True, exist_ok=True)
    urls = _mirrors(name, mirrors)
    for fname in HASHES[name]:
        _download(name, fname, folder, urls, progress)
    return folder


def _reachable(name: str, timeout: float = _PROBE_SECONDS) -> bool:
    """Does any mirror answer a HEAD for the smallest file within `timeout` seconds?"""
    fname = next(iter(HASHES[name]))     # HEAD only: the size does not matter
    urls = [m.rstrip("/") + "/" + fname for m in _mirrors(name)]
    answered = []

    def probe():
        import requests

        for url in urls:
            try:
                if requests.head(url, timeout=timeout, allow_redirects=True).ok:
                    answered.append(url)
                    return
            except requests.RequestException:
                continue

    # A thread with a deadline, because getaddrinfo has no timeout of its own offline.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answered)


# ---------------------------------------------------------------- decoding


class _SafeUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and plain containers; any other global is refused, never called."""

    def find_class(self, module, name):
        allowed = _allowed_globals()
        if (module, name) in allowed:
            return allowed[(module, name)]
        raise pickle.UnpicklingError(f"refused to load {module}.{name}")


def _allowed_globals() -> dict:
    """(module, name) -> object: exactly what pickled numpy arrays (numpy 1 or 2) refer to."""
    try:
        from numpy._core import multiarray, numeric
    except ImportError:     # numpy < 2
        from numpy.core import multiarray, numeric
    import codecs

    # _codecs.encode: protocol-2 pickles written by Python 3 spell bytes as encode(str, "latin1")
    table = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
             ("_codecs", "encode"): codecs.encode}
    for pkg in ("numpy.core", "numpy._core"):
        table[(pkg + ".multiarray", "_reconstruct")] = multiarray._reconstruct
        table[(pkg + ".multiarray", "scalar")] = multiarray.scalar
        if hasattr(numeric, "_frombuffer"):     # pickle protocol 5 arrays
            table[(pkg + ".numeric", "_frombuffer")] = numeric._frombuffer
    return table


def _read_bytes(path: Path, name: str) -> bytes:
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if path.name.endswith(".gz") else raw
    except (OSError, EOFError, zlib.error) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: not a readable gzip file ({reason}); delete it and run "
                        f"`explorer data fetch {name}`, or replace it with a good copy") from None


def _unpickle(data: bytes, where: str, name: str):
    import io

    try:
        return _SafeUnpickler(io.BytesIO(data), encoding="latin1").load()
    except Exception as exc:    # a damaged pickle can raise almost anything; none may escape
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{where}: cannot be loaded safely ({reason}); delete it and run "
                        f"`explorer data fetch {name}`, or replace it with a good copy") from None


def _idx(path: Path, name: str, ndim: int) -> np.ndarray:
    """Parse one IDX file of unsigned bytes with `ndim` dimensions, checking its header."""
    data = _read_bytes(path, name)
    fix = f"delete it and run `explorer data fetch {name}`, or replace it with a good copy"
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number); {fix}")
    if data[2] != 0x08:
        raise DataError(f"{path}: IDX element type 0x{data[2]:02x}, expected 0x08 (unsigned byte); {fix}")
    if data[3] != ndim:
        raise DataError(f"{path}: IDX file has {data[3]} dimensions, expected {ndim}; {fix}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: IDX header cut short; {fix}")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        raise DataError(f"{path}: has {len(data)} bytes but its header {dims} needs {expected} "
                        f"(truncated or corrupt); {fix}")
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def _check(name, where, X, y, n_features) -> None:
    fix = f"delete it and run `explorer data fetch {name}`, or replace it with a good copy"
    if X.ndim != 2 or X.shape[1] != n_features:
        shape = "x".join(map(str, SHAPES[name]))
        raise DataError(f"{where}: inputs have shape {X.shape}, expected (n, {n_features}) ({shape} images); "
                        + fix)
    if y.ndim != 1 or len(y) != len(X):
        raise DataError(f"{where}: {len(X)} inputs but {len(y)} labels; {fix}")
    if y.dtype.kind not in "iu":
        raise DataError(f"{where}: labels are {y.dtype}, expected integers; {fix}")
    if len(y) and (y.min() < 0 or y.max() >= len(CLASSES[name])):
        bad = int(y.max()) if y.max() >= len(CLASSES[name]) else int(y.min())
        raise DataError(f"{where}: label value {bad} out of range 0..{len(CLASSES[name]) - 1}; {fix}")
    if X.dtype.kind == "f" and len(X) and (X.min() < 0 or X.max() > 1):
        raise DataError(f"{where}: input values outside [0, 1]; {fix}")


def _decode_idx(name, files):
    out = []
    for split in ("train", "t10k"):
        images = _idx(files[f"{split}-images-idx3-ubyte"], name, 3)
        labels = _idx(files[f"{split}-labels-idx1-ubyte"], name, 1)
        where = f"{name} {split} files in {files[f'{split}-images-idx3-ubyte'].parent}"
        if images.shape[1:] != (28, 28):
            raise DataError(f"{where}: images are {images.shape[1]}x{images.shape[2]}, expected 28x28; "
                            f"point data_dir at {name} files")
        X, y = images.reshape(len(images), -1), labels.astype(np.int64)
        _check(name, where, X, y, 784)
        out += [X, y]
    return out


def _decode_pkl(name, files):
    path = files["pkl"]
    parts = _unpickle(_read_bytes(path, name), str(path), name)
    layout = "(train, valid, test) pairs of (X, y)"
    try:
        (Xa, ya), (Xb, yb), (Xc, yc) = parts
        arrays = [np.asarray(a) for a in (Xa, ya, Xb, yb, Xc, yc)]
    except (TypeError, ValueError):
        raise DataError(f"{path}: not the mnist.pkl.gz layout {layout}; replace it") from None
    if any(a.dtype == object for a in arrays):
        raise DataError(f"{path}: holds object arrays, not the mnist.pkl.gz layout {layout}; replace it")
    Xa, ya, Xb, yb, Xc, yc = arrays
    for X, y in ((Xa, ya), (Xb, yb), (Xc, yc)):
        _check(name, str(path), X, y, 784)
    return [np.concatenate([Xa, Xb]).astype(np.float32), np.concatenate([ya, yb]).astype(np.int64),
            Xc.astype(np.float32), yc.astype(np.int64)]


def _cifar_batch(data: bytes, where: str):
    batch = _unpickle(data, where, "cifar10")
    if not isinstance(batch, dict):
        raise DataError(f"{where}: not a CIFAR-10 batch (a dict with data and labels); replace it")
    batch = {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in batch.items()}
    try:
        X, y = np.asarray(batch["data"]), np.asarray(batch["labels"], dtype=np.int64)
    except (KeyError, TypeError, ValueError):
        raise DataError(f"{where}: not a CIFAR-10 batch (needs 'data' and 'labels'); replace it") from None
    if X.dtype != np.uint8 or X.ndim != 2 or X.shape[1] != 3072:
        raise DataError(f"{where}: data is {X.dtype} {X.shape}, expected uint8 (n, 3072); replace it")
    _check("cifar10", where, X, y, 3072)
    # rows are 1024 red, 1024 green, 1024 blue values; reorder to (32, 32, 3) then flatten
    return X.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).reshape(len(X), -1), y


def _decode_cifar(fmt, files):
    blobs = {}
    if fmt == "cifar-folder":
        blobs = {b: p.read_bytes() for b, p in files.items()}
        where = {b: str(p) for b, p in files.items()}
    else:
        tar = files["tar"]
        try:
            with tarfile.open(tar, "r:gz") as archive:
                for member in archive:   # read members in place: no extraction, no path tricks
                    base = member.name.rsplit("/", 1)[-1]
                    if member.isfile() and base in _CIFAR_BATCHES:
                        blobs[base] = archive.extractfile(member).read()
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{tar}: not a readable tar.gz ({type(exc).__name__}); delete it and run "
                            f"`explorer data fetch cifar10`") from None
        missing = [b for b in _CIFAR_BATCHES if b not in blobs]
        if missing:
            raise DataError(f"{tar}: missing {', '.join(missing)}; delete it and run "
                            "`explorer data fetch cifar10`")
        where = {b: f"{tar}:{b}" for b in _CIFAR_BATCHES}
    train = [_cifar_batch(blobs[b], where[b]) for b in _CIFAR_BATCHES[:5]]
    Xt, yt = _cifar_batch(blobs["test_batch"], where["test_batch"])
    return [np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), Xt, yt]


# ---------------------------------------------------------------- decoded-array cache


def _cache_entry(name: str, files: dict) -> Path:
    key = [_CACHE_FORMAT]
    for path in sorted(files.values()):
        st = path.stat()
        key.append((str(path.resolve()), st.st_size, st.st_mtime_ns))
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:20]
    return cache_dir() / "decoded" / f"{name}-{digest}.npz"


_KEYS = ("X_train", "y_train", "X_test", "y_test")


def _read_entry(entry: Path):
    if not entry.is_file():
        return None
    try:
        with np.load(entry, allow_pickle=False) as npz:
            return [npz[k] for k in _KEYS]
    except Exception:       # a damaged cache entry is only a cache miss; drop it
        entry.unlink(missing_ok=True)
        return None


def _write_entry(entry: Path, arrays) -> None:
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=entry.parent, prefix=entry.stem + ".", suffix=".npz.tmp",
                                         delete=False) as tmp:
            np.savez(tmp, **dict(zip(_KEYS, arrays, strict=True)))
        os.replace(tmp.name, entry)
        for old in entry.parent.glob(entry.name.rsplit("-", 1)[0] + "-*.npz"):
            if old != entry:
                old.unlink(missing_ok=True)
    except OSError:         # an unwritable cache costs speed, never correctness
        if "tmp" in locals():
            Path(tmp.name).unlink(missing_ok=True)


# ---------------------------------------------------------------- load


def _raw(name: str, data_dir, download: bool, verbose: bool):
    """Decoded (X_train, y_train, X_test, y_test) in their stored dtypes, and the source."""
    found = _find_local(name, data_dir)
    if found is None:
        if not download:
            raise _not_found(name, data_dir, "download=False")
        try:
            folder = fetch(name, progress=verbose)
        except _DownloadFailed as exc:
            raise _not_found(name, data_dir, "download failed: " + "; ".join(exc.failures)) from None
        found = ("cache", folder, *_find_in(name, folder, "cache"))
    kind, folder, fmt, files = found
    entry = _cache_entry(name, files)
    arrays = _read_entry(entry)
    if arrays is None:
        if kind == "cache":     # files we downloaded: check their hashes before trusting them
            for fname in files.values() if fmt != "pkl" else ():
                if fname.name in HASHES.get(name, {}) and _sha256(fname) not in HASHES[name][fname.name]:
                    if not download:
                        raise DataError(f"{fname}: SHA-256 does not match the published hash; delete it and "
                                        f"run `explorer data fetch {name}`")
                    _download(name, fname.name, folder, _mirrors(name), verbose)
            entry = _cache_entry(name, files)
        if fmt == "idx":
            arrays = _decode_idx(name, files)
        elif fmt == "pkl":
            arrays = _decode_pkl(name, files)
        else:
            arrays = _decode_cifar(fmt, files)
        _write_entry(entry, arrays)
    source = files["tar"] if fmt == "cifar-tar" else files["pkl"] if fmt == "pkl" else folder
    return arrays, str(source)


def _not_found(name, data_dir, why):
    try:
        places = [str(p) for _, p in _places(name, data_dir)]
    except DataError:
        places = []
    return DataError(f"{name} not found (searched {', '.join(places)}; {why}); run "
                     f"`explorer data fetch {name}` with a network, or use --dataset digits")


def _random_rows(seed: int, split: int, start: int, stop: int):
    """Rows start..stop of the random control set; blocks of 1,024 rows have their own seed."""
    B = 1024
    Xs, ys = [], []
    for block in range(start // B, -(-stop // B)):
        rng = np.random.default_rng([seed, split, block])
        X = rng.random((B, 784), dtype=np.float32)
        y = rng.integers(0, 10, B, dtype=np.int64)
        lo, hi = max(start - block * B, 0), min(stop - block * B, B)
        Xs.append(X[lo:hi])
        ys.append(y[lo:hi])
    if not Xs:
        return np.zeros((0, 784), np.float32), np.zeros(0, np.int64)
    return np.concatenate(Xs), np.concatenate(ys)


def _to_float(X: np.ndarray) -> np.ndarray:
    if X.dtype == np.uint8:
        out = X.astype(np.float32)
        out /= np.float32(255)       # divide, not multiply by 1/255: 255 maps to exactly 1.0
        return out
    return np.ascontiguousarray(X, dtype=np.float32)


def _count(value, what):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise DataError(f"{what} must be a non-negative integer, got {value!r}")
    return int(value)


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


def _choose_auto(data_dir, download, verbose) -> str:
    how = "get MNIST with `explorer data fetch mnist`"
    if _find_local("mnist", data_dir):
        choice, why = "mnist", "found on this machine"
    elif download and _reachable("mnist"):
        choice, why = "mnist", "downloading it"
    elif _find_local("fashion-mnist", data_dir):
        offline = " and no mirror answered" if download else ""
        choice, why = "fashion-mnist", f"MNIST is not on this machine{offline}; {how}"
    else:
        choice, why = "digits", f"neither MNIST nor Fashion-MNIST is on this machine; {how}"
    if verbose:
        print(f"explorer: data set 'auto' -> {choice} ({why})", file=sys.stderr)
    return choice


def load(name="auto", data_dir=None, *, n_train=None, n_test=None, heldout=None, validation=0,
         seed=0, download=True, verbose=True) -> Dataset:
    """Load a data set by name; see the module docstring for places, formats and splits."""
    name = canonical_name(name)
    n_train, n_test = _count(n_train, "n_train"), _count(n_test, "n_test")
    validation = _count(validation, "validation") or 0
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed!r}")
    if heldout is not None and name in ("digits", "cifar10"):
        raise DataError(f"heldout='post' is the post's protocol for MNIST-shaped data, not {name}; "
                        f"use validation= instead")
    if name == "auto":
        name = _choose_auto(data_dir, download, verbose)

    if name == "random":
        plan = _plan(name, 60_000, 10_000, n_train, n_test, heldout, validation)
        parts = [_random_rows(int(seed), 0 if part == "train" else 1, lo, hi) for part, lo, hi in plan]
        source = f"generated (seed {seed})"
    else:
        if name == "digits":
            from sklearn.datasets import load_digits

            digits = load_digits()
            X, y = (digits.data / 16).astype(np.float32), digits.target.astype(np.int64)
            arrays, source = [X[:1500], y[:1500], X[1500:], y[1500:]], "sklearn.datasets.load_digits"
        else:
            arrays, source = _raw(name, data_dir, download, verbose)
        stored = {"train": arrays[:2], "test": arrays[2:]}
        plan = _plan(name, len(arrays[0]), len(arrays[2]), n_train, n_test, heldout, validation)
        parts = [(_to_float(stored[p][0][lo:hi]), stored[p][1][lo:hi].astype(np.int64)) for p, lo, hi in plan]
    (X_train, y_train), (X_test, y_test) = parts
    return Dataset(name, X_train, y_train, X_test, y_test, SHAPES[name], list(CLASSES[name]), source)


def list_report(data_dir=None) -> str:
    """What `explorer data list` prints: each data set, whether it is available and from where."""
    lines = []
    for name in DATASETS:
        if name == "digits":
            status = "available: bundled with scikit-learn (offline)"
        elif name == "random":
            status = "available: generated from a seed (the control data set)"
        else:
            try:
                found = _find_local(name, data_dir)
            except DataError as exc:
                found, status = None, f"broken: {exc}"
            else:
                status = ""
            if found:
                kind, folder, fmt, files = found
                where = files.get("tar") or files.get("pkl") or folder
                status = f"available: {where} ({'downloaded copy' if kind == 'cache' else kind + ' copy'})"
            elif not status:
                host = _mirrors(name)[0]
                status = (f"not on this machine; `explorer data fetch {name}` downloads it "
                          f"({_SIZES[name]}) from {host}")
        lines.append(f"{name:<14} {status}")
    lines.append(f"searched: data_dir, $EXPLORER_DATA, cache {cache_dir()}, "
                 f"system {os.environ.get('EXPLORER_SYSTEM_DATA', '/usr/share/datasets')}")
    return "\n".join(lines)
