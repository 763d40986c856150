"""Decoding data files into arrays, and the cache of decoded arrays; nothing else.

Every decoder returns [X_train, y_train, X_test, y_test] in the stored dtypes (uint8 images
flattened to (n, features), or the pickle's floats) and checks what it read: IDX magic,
dimensions, byte count, sample counts, label range, input range. Each problem is a one-line
DataError naming the file, what is wrong with it and what to do.

Formats: the four IDX files (`.gz` or plain); the post's `mnist.pkl.gz`, whose train (50,000)
and valid (10,000) parts are joined back into the standard 60,000-sample training set in
order; CIFAR-10 as the `cifar-10-batches-py` folder or `cifar-10-python.tar.gz` (read in
place, never extracted), images reordered to (32, 32, 3), HWC.

Pickles go through `_SafeUnpickler`, which can build numpy arrays and nothing else.

The decoded-array cache keeps [X_train, y_train, X_test, y_test] in `<cache>/decoded/` as
uncompressed .npz keyed by the source files' path, size and mtime (written atomically); a
valid entry skips both decoding and re-hashing. A damaged or unwritable cache is only a miss.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile
import tempfile
import zlib
from pathlib import Path

import numpy as np

from explorer.data.registry import DatasetSpec
from explorer.errors import DataError

IDX_MAX_BYTES = 2**31  # an IDX data set without n_samples in its spec: at most 2 GiB of images per file
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
CIFAR_BATCH_MAX = 64 * 2**20  # a batch is 10,000 images of 3,072 bytes (~31 MB) pickled
_CACHE_FORMAT = 1       # bump to invalidate every decoded-array cache entry
_KEYS = ("X_train", "y_train", "X_test", "y_test")


def _fix(name: str) -> str:
    return f"delete it and run `explorer data fetch {name}`, or replace it with a good copy"


# ---------------------------------------------------------------- reading files


def check_readable(path: Path, name: str) -> None:
    """DataError unless `path` is a non-empty regular file this process may read; says which it
    is not. A FIFO or device is refused before it is opened: opening a FIFO waits for a writer."""
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a file; replace it with the {name} file {path.name}")
    if path.exists() and not path.is_file():
        raise DataError(f"{path} is not a regular file (a FIFO, device or socket); replace it with the {name} "
                        f"file {path.name}")
    try:
        with open(path, "rb", opener=lambda p, flags: os.open(p, flags | getattr(os, "O_NONBLOCK", 0))):
            pass
        size = path.stat().st_size
    except PermissionError:
        raise DataError(f"{path}: permission denied (this user may not read it); "
                        f"make it readable (chmod a+r) or copy it somewhere readable") from None
    except OSError as exc:
        raise DataError(f"{path} cannot be read ({exc.strerror or type(exc).__name__}); {_fix(name)}") from None
    if size == 0:
        raise DataError(f"{path} is empty (0 bytes); {_fix(name)}")


def read_bytes(path: Path, name: str, most: int | None = None) -> bytes:
    """The file's bytes, gunzipped if its name ends in .gz. `most`: a .gz that inflates to more
    bytes than this is refused as soon as it passes that size (a gzip bomb never fills the memory)."""
    check_readable(path, name)
    with _stream(path, name) as f:
        data = _read(f, path, name, -1 if most is None else most + 1)
    if most is not None and len(data) > most:
        raise DataError(f"{path} holds more than {most:,} bytes{' once inflated' if _gz(path) else ''}, more than "
                        f"{name}'s data can be; {_fix(name)}")
    return data


def _gz(path: Path) -> bool:
    return path.name.endswith(".gz")


@contextlib.contextmanager
def _stream(path: Path, name: str):
    """`path` opened for reading, inflated as it is read if it is a .gz; open errors as DataErrors."""
    try:
        f = gzip.open(path, "rb") if _gz(path) else open(path, "rb")
    except OSError as exc:
        raise DataError(f"{path} cannot be read ({exc.strerror or type(exc).__name__}); {_fix(name)}") from None
    with f:
        yield f


def _read(f, path: Path, name: str, n: int) -> bytes:
    """Up to n bytes of the open stream f (-1: all); a damaged gzip stream is a DataError."""
    try:
        return f.read(n)
    except (OSError, EOFError, zlib.error) as exc:
        if not _gz(path):
            raise DataError(f"{path} cannot be read ({exc.strerror or type(exc).__name__}); {_fix(name)}") from None
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: not a readable gzip file ({reason}); {_fix(name)}") from None


# ---------------------------------------------------------------- pickles


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


def unpickle(data: bytes, where: str, name: str):
    """Load a pickle that may hold numpy arrays and plain containers only."""
    try:
        return _SafeUnpickler(io.BytesIO(data), encoding="latin1").load()
    except Exception as exc:    # a damaged pickle can raise almost anything; none may escape
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{where}: cannot be loaded safely ({reason}); {_fix(name)}") from None


# ---------------------------------------------------------------- checks shared by the formats


def _check(spec: DatasetSpec, where: str, X, y) -> None:
    fix, n_features, n_classes = _fix(spec.name), spec.n_features, spec.n_classes
    if X.ndim != 2 or X.shape[1] != n_features:
        shape = "x".join(map(str, spec.image_shape))
        raise DataError(f"{where}: inputs have shape {X.shape}, expected (n, {n_features}) ({shape} images); "
                        + fix)
    if y.ndim != 1 or len(y) != len(X):
        raise DataError(f"{where}: {len(X)} inputs but {len(y)} labels; {fix}")
    if y.dtype.kind not in "iu":
        raise DataError(f"{where}: labels are {y.dtype}, expected integers; {fix}")
    if len(y) and (y.min() < 0 or y.max() >= n_classes):
        bad = int(y.max()) if y.max() >= n_classes else int(y.min())
        raise DataError(f"{where}: label value {bad} out of range 0..{n_classes - 1}; {fix}")
    if X.dtype.kind == "f" and len(X) and (X.min() < 0 or X.max() > 1):
        raise DataError(f"{where}: input values outside [0, 1]; {fix}")


# ---------------------------------------------------------------- IDX


def _idx(path: Path, spec: DatasetSpec, ndim: int, most: int) -> np.ndarray:
    """Parse one IDX file of unsigned bytes with `ndim` dimensions and at most `most` samples,
    checking its header -- its declared sizes against the spec, before the rest is read or inflated."""
    name, fix = spec.name, _fix(spec.name)
    check_readable(path, name)
    with _stream(path, name) as f:
        head = _read(f, path, name, 4 + 4 * ndim)
        header, dims = _idx_header(head, path, spec, ndim, most)
        # one byte more than declared: a longer file is refused without reading (inflating) the rest
        data = head + _read(f, path, name, int(np.prod(dims, dtype=np.int64)) + 1)
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        raise DataError(f"{path}: has {len(data)} bytes but its header {dims} needs {expected} "
                        f"(truncated or corrupt); {fix}")
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def _idx_header(data: bytes, path: Path, spec: DatasetSpec, ndim: int, most: int) -> tuple[int, tuple]:
    """(header length, declared dimensions) of an IDX file's first bytes, checked: magic, type,
    rank, the image shape of `spec`, and at most `most` samples."""
    fix = _fix(spec.name)
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
    what = "images" if ndim > 1 else "labels"
    if dims[0] == 0:
        raise DataError(f"{path} declares 0 {what}; {fix}")
    if ndim > 1 and dims[1:] != spec.image_shape:
        have, want = ("x".join(map(str, s)) for s in (dims[1:], spec.image_shape))
        raise DataError(f"{path}: images are {have}, expected {want}; point data_dir at {spec.name} files")
    if dims[0] > most:
        raise DataError(f"{path} declares {dims[0]:,} {what}; {spec.name}'s files hold at most {most:,}; {fix}")
    return header, dims


def idx_limits(spec: DatasetSpec) -> tuple[int, int]:
    """The most samples the train and the test files may declare: the spec's n_samples, or
    IDX_MAX_BYTES of images (then a declared size is checked against that before inflating)."""
    if spec.n_samples is not None:
        return spec.n_samples
    most = IDX_MAX_BYTES // spec.n_features
    return most, most


def decode_idx(spec: DatasetSpec, files: dict) -> list:
    """The four IDX files ({published name: path}, in the spec's order) as arrays."""
    paths = [files[f] for f in spec.files]
    out = []
    for (split, images_path, labels_path), most in zip((("train", *paths[:2]), ("t10k", *paths[2:])),
                                                        idx_limits(spec)):
        images = _idx(images_path, spec, 1 + len(spec.image_shape), most)
        labels = _idx(labels_path, spec, 1, most)
        where = f"{spec.name} {split} files in {images_path.parent}"
        X, y = images.reshape(len(images), -1), labels.astype(np.int64)
        _check(spec, where, X, y)
        out += [X, y]
    return out


# ---------------------------------------------------------------- the post's pickle


def decode_pickle(spec: DatasetSpec, path: Path) -> list:
    """The post's (train, valid, test) pickle; train and valid are joined into one training set."""
    most = sum(idx_limits(spec)) * 8 * (spec.n_features + 1) + 2**20  # float64 inputs and labels, and slack
    parts = unpickle(read_bytes(path, spec.name, most), str(path), spec.name)
    layout = "(train, valid, test) pairs of (X, y) arrays"
    try:
        (Xa, ya), (Xb, yb), (Xc, yc) = parts
        arrays = [Xa, ya, Xb, yb, Xc, yc]
    except (TypeError, ValueError):
        raise DataError(f"{path}: not the {spec.pickle} layout {layout}; replace it") from None
    # arrays only: np.asarray of nested lists that share their items (a 'billion laughs') would
    # build a table of billions of entries from a pickle of a few hundred bytes
    if not all(isinstance(a, np.ndarray) for a in arrays):
        raise DataError(f"{path}: holds {', '.join(sorted({type(a).__name__ for a in arrays}))}, not the "
                        f"{spec.pickle} layout {layout}; replace it")
    if any(a.dtype == object for a in arrays):
        raise DataError(f"{path}: holds object arrays, not the {spec.pickle} layout {layout}; replace it")
    Xa, ya, Xb, yb, Xc, yc = arrays
    for X, y in ((Xa, ya), (Xb, yb), (Xc, yc)):
        _check(spec, str(path), X, y)
    return [np.concatenate([Xa, Xb]).astype(np.float32), np.concatenate([ya, yb]).astype(np.int64),
            Xc.astype(np.float32), yc.astype(np.int64)]


# ---------------------------------------------------------------- CIFAR-10


def _cifar_batch(spec: DatasetSpec, data: bytes, where: str):
    batch = unpickle(data, where, spec.name)
    if not isinstance(batch, dict):
        raise DataError(f"{where}: not a CIFAR-10 batch (a dict with data and labels); replace it")
    batch = {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in batch.items()}
    X, labels = batch.get("data"), batch.get("labels")
    # 'data' an array, 'labels' a flat list of ints (or an array): never np.asarray of nested lists,
    # which a pickle can make share their items and so stand for billions of entries
    flat = isinstance(labels, np.ndarray) or (isinstance(labels, list) and all(type(v) is int for v in labels))
    if not isinstance(X, np.ndarray) or not flat:
        raise DataError(f"{where}: not a CIFAR-10 batch (needs a 'data' array and a flat list of 'labels'); "
                        f"replace it")
    try:
        y = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"{where}: not a CIFAR-10 batch (its labels are not whole numbers); replace it") from None
    if X.dtype != np.uint8 or X.ndim != 2 or X.shape[1] != spec.n_features:
        raise DataError(f"{where}: data is {X.dtype} {X.shape}, expected uint8 (n, {spec.n_features}); replace it")
    _check(spec, where, X, y)
    # rows are all red values, then all green, then all blue; reorder to (H, W, C) then flatten
    h, w, c = spec.image_shape
    return X.reshape(-1, c, h, w).transpose(0, 2, 3, 1).reshape(len(X), -1), y


def decode_cifar(spec: DatasetSpec, fmt: str, files: dict) -> list:
    """CIFAR-10's six batches from a folder ("cifar-folder") or read in place from the tar.gz."""
    blobs = {}
    if fmt == "cifar-folder":
        blobs = {b: read_bytes(p, spec.name, CIFAR_BATCH_MAX) for b, p in files.items()}
        where = {b: str(p) for b, p in files.items()}
    else:
        tar = files["tar"]
        check_readable(tar, spec.name)
        fetch_it = f"delete it and run `explorer data fetch {spec.name}`"
        try:
            with tarfile.open(tar, "r:gz") as archive:
                for member in archive:   # read members in place: no extraction, no path tricks
                    base = member.name.rsplit("/", 1)[-1]
                    if member.isfile() and base in CIFAR_BATCHES:
                        if member.size > CIFAR_BATCH_MAX:  # declared in its header: checked before it is read
                            raise DataError(f"{tar}:{base} is {member.size:,} bytes, more than a CIFAR-10 batch "
                                            f"can be; {fetch_it}")
                        blobs[base] = archive.extractfile(member).read()
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{tar}: not a readable tar.gz ({type(exc).__name__}); {fetch_it}") from None
        missing = [b for b in CIFAR_BATCHES if b not in blobs]
        if missing:
            raise DataError(f"{tar}: missing {', '.join(missing)}; {fetch_it}")
        where = {b: f"{tar}:{b}" for b in CIFAR_BATCHES}
    train = [_cifar_batch(spec, blobs[b], where[b]) for b in CIFAR_BATCHES[:5]]
    Xt, yt = _cifar_batch(spec, blobs["test_batch"], where["test_batch"])
    return [np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), Xt, yt]


def decode(spec: DatasetSpec, fmt: str, files: dict) -> list:
    """[X_train, y_train, X_test, y_test] from files found as `fmt` ('idx', 'pkl', 'cifar-*')."""
    if fmt == "idx":
        return decode_idx(spec, files)
    if fmt == "pkl":
        return decode_pickle(spec, files["pkl"])
    return decode_cifar(spec, fmt, files)


# ---------------------------------------------------------------- decoded-array cache


def cache_entry(cache: Path, name: str, files: dict) -> Path:
    """Where the decoded arrays of these files live: keyed by their path, size and mtime."""
    key = [_CACHE_FORMAT]
    for path in sorted(files.values()):
        st = path.stat()
        key.append((str(path.resolve()), st.st_size, st.st_mtime_ns))
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:20]
    return cache / "decoded" / f"{name}-{digest}.npz"


def read_entry(entry: Path):
    """The cached arrays, or None (a damaged entry is deleted: it is only a cache miss)."""
    if not entry.is_file():
        return None
    try:
        with np.load(entry, allow_pickle=False) as npz:
            return [npz[k] for k in _KEYS]
    except Exception:
        entry.unlink(missing_ok=True)
        return None


def write_entry(entry: Path, arrays) -> None:
    """Store the arrays atomically and drop older entries of the same data set."""
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
