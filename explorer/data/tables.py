"""Data sets from your files: `.csv` and `.npz`, read safely, as a `Dataset`'s fields (through
own.from_arrays); from a path (`load("wine.csv")`) or from an upload's bytes (`from_upload`).

Safety and size. Never a pickle: an .npz is opened with allow_pickle=False (an object array is
refused, never unpickled), and a file that is a pickle, a bare .npy or not a zip is named as
such. Before anything is read whole: the file's size (MAX_FILE_BYTES; uploads MAX_UPLOAD_BYTES),
then the inputs' size as float32 -- rows x features x 4 from a line count and the header for a
CSV, from the arrays' declared sizes in the zip directory for an .npz, before decompressing
anything (MAX_ARRAY_BYTES). One pass over the bytes hashes them (SHA-256: `Dataset.sha256`; a
RunConfig naming the file records it and refuses a file that changed) and counts the lines.

CSV. Comma-separated, UTF-8 (a byte-order mark is fine), one sample per line, fields may be
quoted. The first line is a header when one of its cells is not a number while the cell below
it is (or when it is the only line): its names are the feature names; without one, features are
named by column number ("column 3"). The label column (`label_column`) is a header name, a
column number counted from 1, or from the end (-1, the default: the last column); labels may be
any text (own.class_indices maps them). Every other column must hold numbers. Rows are parsed
a block (~16 MB of text) at a time by numpy's C parser (np.loadtxt) straight into one float32
array, which is then shuffled and scaled in place: a CSV loads within about 1x its float32
array (tests/test_tables.py measures 100,000 x 1,000). A bad file gets one line naming the
line and column (as an editor counts them, from 1) and what to do: a ragged row, text or an
empty cell in a feature column, NaN/inf, an empty label, an empty file, a header with no rows.

NPZ. Arrays `X` and `y` (or `X_train`, `y_train`), optionally `X_test` and `y_test` (then no
split), `feature_names`, `classes` (text arrays) and `image_shape` (ints); nothing else.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np

from explorer.data.own import from_arrays
from explorer.errors import DataError

MAX_FILE_BYTES = 1_000_000_000      # a CSV of ~100 million numbers
MAX_ARRAY_BYTES = 2_000_000_000     # the inputs as float32 (an .npz: all its arrays, decompressed)
MAX_UPLOAD_BYTES = 100_000_000      # the dashboard's upload (the page sends the whole file through the kernel)
KINDS = (".csv", ".npz")
NPZ_KEYS = ("X", "y", "X_train", "y_train", "X_test", "y_test", "feature_names", "classes", "image_shape")
_CHUNK = 16 << 20               # bytes of text parsed at a time
_BIG = "sample rows, or load it yourself and pass arrays to Dataset.from_arrays"


def is_file_name(name) -> bool:
    """Does this data set name mean a file (it ends in .csv or .npz)?"""
    return str(name).strip().lower().endswith(KINDS)


def _size(n: float) -> str:
    """1,234 bytes, 12.3 MB, 2 GB."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:.1f}".removesuffix(".0") + f" {unit}"
        n /= 1000


class _Source:
    """A file or an upload's bytes: where it is (for messages), its size, a fresh binary stream."""

    def __init__(self, where: str, path: Path | None = None, content: bytes | None = None):
        self.where, self.path, self.content = where, path, content
        self.suffix = Path(where).suffix.lower()
        self.name = Path(where).stem or "data"

    def open(self):
        return open(self.path, "rb") if self.content is None else io.BytesIO(self.content)

    def size(self) -> int:
        return len(self.content) if self.content is not None else self.path.stat().st_size

    def scan(self, count_lines: bool) -> tuple[str, int]:
        """(SHA-256, number of lines) in one pass of 16 MB blocks; a NUL byte in a CSV is refused
        (a binary file, not text)."""
        h, lines, last = hashlib.sha256(), 0, b"\n"
        with self.open() as f:
            while block := f.read(_CHUNK):
                h.update(block)
                if count_lines:
                    if b"\0" in block:
                        raise DataError(f"{self.where} holds NUL bytes: a binary file, not CSV text; save it as "
                                        f"CSV (comma-separated UTF-8 text)")
                    lines += block.count(b"\n")
                last = block[-1:]
        return h.hexdigest(), lines + (last != b"\n")


def file_source(path) -> _Source:
    """A data file checked before anything is read: it exists, is a readable regular file, not
    empty, not over MAX_FILE_BYTES."""
    p = Path(path).expanduser()
    where = str(path)
    if not p.exists():
        raise DataError(f"{where}: no such file; check the path (relative paths start at {Path.cwd()})")
    if not p.is_file():
        raise DataError(f"{where} is {'a folder' if p.is_dir() else 'not a regular file'}; pass a .csv or .npz file")
    try:
        with open(p, "rb"):
            pass
    except OSError as e:
        raise DataError(f"{where} cannot be read ({e.strerror or type(e).__name__}); make it readable") from None
    size = p.stat().st_size
    if size == 0:
        raise DataError(f"{where} is empty (0 bytes); pass a file with data")
    if size > MAX_FILE_BYTES:
        raise DataError(f"{where} is {_size(size)}; files up to {_size(MAX_FILE_BYTES)} are read (MAX_FILE_BYTES): "
                        + _BIG)
    return _Source(where, path=p)


def sha256_of(path) -> str:
    """The SHA-256 of a data file (checked like any data file first)."""
    return file_source(path).scan(False)[0]


# ---------------------------------------------------------------- CSV


def _cells(line: str) -> list[str]:
    return next(csv.reader([line]), [])


def _is_number(cell: str) -> bool:
    cell = cell.strip()
    if not cell:
        return True     # an empty cell is a missing number, not a name
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _label_index(label_column, header, ncols: int, where: str) -> int:
    if label_column is None:
        return ncols - 1
    text = str(label_column).strip()
    if header is not None and text in header:
        return header.index(text)
    try:
        k = int(text)
    except ValueError:
        names = ", ".join(repr(h) for h in header[:8]) + (", ..." if len(header) > 8 else "") if header else ""
        has = f"its header has {names}" if header else "it has no header line"
        raise DataError(f"--label-column {text!r} is not a column of {where} ({has}); pass a header name or a "
                        f"column number (1..{ncols}, or -1 for the last)") from None
    if k == 0 or not -ncols <= k <= ncols:
        raise DataError(f"--label-column {k}: {where} has {ncols} columns; pass 1..{ncols} (counted from 1) or "
                        f"-1..-{ncols} (from the end)")
    return k - 1 if k > 0 else ncols + k


def _bad_cell(lines, numbers, cols, names, where, label_name):
    """The first cell of `cols` in `lines` that is not a number, as one DataError line."""
    for line, no in zip(lines, numbers):
        cells = _cells(line)
        for j, col in enumerate(cols):
            cell = cells[col].strip()
            if not _is_number(cell) or not cell:
                what = "an empty cell (a missing value)" if not cell else f"{cell[:30]!r} is not a number"
                raise DataError(f"{where} line {no}, column {col + 1} ({names[j]}): {what}; every column but the "
                                f"label ({label_name}) must hold numbers: fill in or drop missing values, encode "
                                f"text as numbers, or pick the label with --label-column")
    return None


def read_csv(src: _Source, label_column=None, sha256=None):
    """Checked CSV -> (X float32 in file order, labels as text, feature names, label name, sha)."""
    where = src.where
    digest, n_lines = src.scan(True)
    if sha256 is not None and digest != sha256:
        raise DataError(changed(where, digest, sha256))
    with src.open() as raw:
        fh = io.TextIOWrapper(raw, encoding="utf-8-sig", newline=None)
        try:
            return (*_parse(fh, where, n_lines, label_column), digest)
        except UnicodeDecodeError as e:
            raise DataError(f"{where} is not UTF-8 text ({e.reason} near byte {e.start}); save it as UTF-8 "
                            f"CSV") from None


def _parse(fh, where, n_lines, label_column):
    first = fh.readline()
    if not first.strip():
        raise DataError(f"{where}: line 1 is empty; a CSV starts with a header or its first row")
    head = _cells(first)
    second = fh.readline()
    below = _cells(second) if second.strip() else None
    ncols = len(head)
    header = None
    if any(not _is_number(a) and (below is None or (j < len(below) and _is_number(below[j])))
           for j, a in enumerate(head)):
        header = [h.strip() for h in head]
    lab = _label_index(label_column, header, ncols, where)
    if ncols < 2:
        raise DataError(f"{where} has 1 column per line: no features besides the label; fields are separated by "
                        f"commas (a ';'-separated file: save it with commas)")
    cols = [j for j in range(ncols) if j != lab]
    names = [header[j] or f"column {j + 1}" for j in cols] if header else [f"column {j + 1}" for j in cols]
    label_name = repr(header[lab]) if header and header[lab] else f"column {lab + 1}"
    n_max = n_lines - (header is not None)
    if n_max * len(cols) * 4 > MAX_ARRAY_BYTES:
        raise DataError(f"{where}: {n_max:,} rows x {len(cols):,} features are {_size(n_max * len(cols) * 4)} as "
                        f"float32; up to {_size(MAX_ARRAY_BYTES)} are loaded (MAX_ARRAY_BYTES): " + _BIG)
    X = np.empty((max(n_max, 0), len(cols)), np.float32)
    labels, row, no, blank = [], 0, 0, None
    pending = ([] if header else [first]) + ([second] if second else [])
    no = 1 if header else 0
    while True:
        lines = pending + fh.readlines(_CHUNK)
        pending = []
        if not lines:
            break
        keep, numbers = [], []
        for line in lines:
            no += 1
            if not line.strip():
                blank = blank or no
                continue
            if blank:
                raise DataError(f"{where}: line {blank} is empty but data follow; remove empty lines")
            if line.count(",") + 1 != ncols and len(_cells(line)) != ncols:
                raise DataError(f"{where} line {no} has {len(_cells(line))} fields where line 1 has {ncols}; every "
                                f"row needs the same columns (fix or drop that row)")
            keep.append(line)
            numbers.append(no)
        if not keep:
            continue
        try:
            block, failed = np.loadtxt(keep, dtype=np.float32, delimiter=",", quotechar='"', usecols=cols, ndmin=2,
                                       comments=None), None
        except ValueError as e:
            failed = str(e)
        if failed is not None:  # numpy names the chunk's row; find the file's line and the column's name
            _bad_cell(keep, numbers, cols, names, where, label_name)
            raise DataError(f"{where} lines {numbers[0]}-{numbers[-1]}: not all numbers ({failed}); fix those lines")
        if row + len(block) > len(X):
            raise DataError(f"{where}: more rows than lines ending in a newline (\\r line endings?); save it with "
                            f"\\n or \\r\\n line endings")
        bad = np.argwhere(~np.isfinite(block))
        if len(bad):
            r, j = bad[0]
            raise DataError(f"{where} line {numbers[r]}, column {cols[j] + 1} ({names[j]}): {block[r, j]} (a "
                            f"missing or infinite value); fill in or drop rows with missing values first")
        ys = np.char.strip(np.loadtxt(keep, dtype=str, delimiter=",", quotechar='"', usecols=[lab], ndmin=1,
                                      comments=None))
        empty = np.flatnonzero(ys == "")
        if len(empty):
            raise DataError(f"{where} line {numbers[empty[0]]}: the label ({label_name}) is empty; every row needs "
                            f"a label (drop unlabelled rows)")
        X[row:row + len(block)] = block
        labels.append(ys)
        row += len(block)
    if row == 0:
        raise DataError(f"{where} has a header but no data rows; add rows below the header" if header else
                        f"{where} has no data rows")
    return X[:row], np.concatenate(labels), names, label_name


def changed(where: str, digest: str, recorded: str) -> str:
    return (f"{where} changed since the run was configured (SHA-256 {digest[:12]}..., the config records "
            f"{recorded[:12]}...); restore that file, or drop dataset_sha256 from the config to train on the new one")


# ---------------------------------------------------------------- NPZ


def read_npz(src: _Source, sha256=None) -> tuple[dict, str]:
    """Checked .npz -> ({key: array}, sha), never unpickling anything."""
    where = src.where
    with src.open() as f:
        head = f.read(8)
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        what = ("a pickle" if head[:1] == b"\x80" else "a single .npy array" if head.startswith(b"\x93NUMPY")
                else "not a zip archive")
        raise DataError(f"{where} is {what}, not an .npz; explorer never loads pickles: save the arrays with "
                        f"numpy.savez(path, X=X, y=y)")
    digest, _ = src.scan(False)
    if sha256 is not None and digest != sha256:
        raise DataError(changed(where, digest, sha256))
    try:
        with src.open() as f, zipfile.ZipFile(f) as z:
            infos = z.infolist()
            keys = [i.filename.removesuffix(".npy") for i in infos]
            odd = [i.filename for i in infos if not i.filename.endswith(".npy")]
            total = sum(i.file_size for i in infos)
            if odd:
                raise DataError(f"{where} holds {odd[0]!r}, not only .npy arrays; save it with numpy.savez")
            if total > MAX_ARRAY_BYTES:
                raise DataError(f"{where}: its arrays take {_size(total)} decompressed; up to {_size(MAX_ARRAY_BYTES)} "
                                f"are loaded (MAX_ARRAY_BYTES): " + _BIG)
            unknown = [k for k in keys if k not in NPZ_KEYS]
            if unknown:
                raise DataError(f"{where} holds an array named {unknown[0]!r}; an .npz here holds X and y (or X_train, "
                                f"y_train), optionally X_test, y_test, feature_names, classes, image_shape")
            f.seek(0)
            with np.load(f, allow_pickle=False) as npz:
                arrays = {}
                for k in keys:
                    try:
                        arrays[k] = npz[k]
                    except ValueError as e:
                        why = "holds Python objects (dtype object)" if "pickle" in str(e) else f"cannot be read ({e})"
                        raise DataError(f"{where}: array {k!r} {why}; explorer never unpickles: save numbers and "
                                        f"text arrays (e.g. X.astype(float))") from None
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise DataError(f"{where} is a damaged zip archive ({e}); save it again with numpy.savez") from None
    return arrays, digest


def _npz_dataset(src: _Source, arrays: dict, digest: str, seed, test_fraction) -> dict:
    where = src.where
    X = arrays.get("X", arrays.get("X_train"))
    y = arrays.get("y", arrays.get("y_train"))
    if X is None or y is None:
        raise DataError(f"{where} holds {', '.join(arrays) or 'no arrays'}; it needs X and y (or X_train and "
                        f"y_train): numpy.savez(path, X=X, y=y)")
    shape = arrays.get("image_shape")
    try:
        return from_arrays(X, y, arrays.get("X_test"), arrays.get("y_test"), name=src.name,
                           classes=None if "classes" not in arrays else list(arrays["classes"]),
                           image_shape=None if shape is None else [int(s) for s in np.ravel(shape)],
                           feature_names=None if "feature_names" not in arrays else list(arrays["feature_names"]),
                           test_fraction=test_fraction, seed=seed, source=src.where, sha256=digest)
    except DataError as e:
        raise DataError(f"{where}: {e}") from None


# ---------------------------------------------------------------- public


def _dataset(src: _Source, label_column, sha256, seed, test_fraction):
    if src.suffix == ".npz":
        if label_column is not None:
            raise DataError(f"label_column is for CSV files; {src.where} is an .npz, whose labels are its array y")
        arrays, digest = read_npz(src, sha256)
        return _npz_dataset(src, arrays, digest, seed, test_fraction)
    if src.suffix != ".csv":
        raise DataError(f"{src.where}: expected a .csv or .npz file")
    X, labels, names, label_name, digest = read_csv(src, label_column, sha256)
    try:
        return from_arrays(X, labels, name=src.name, feature_names=names, test_fraction=test_fraction, seed=seed,
                           copy=False, source=src.where, sha256=digest, labels=f"the label column {label_name}")
    except DataError as e:
        raise DataError(f"{src.where}: {e}") from None


def load_file(path, label_column=None, sha256=None, seed=0, test_fraction=0.2) -> dict:
    """A .csv or .npz file as a Dataset's fields; see the module docstring."""
    src = file_source(path)
    src.where = str(path)
    return _dataset(src, label_column, sha256, seed, test_fraction)


def upload(name: str, content: bytes, label_column=None, seed=0, test_fraction=0.2) -> dict:
    """An uploaded file's bytes (`name` as uploaded, e.g. "wine.csv") as a Dataset's fields, or
    one DataError line; files over MAX_UPLOAD_BYTES are refused before anything is parsed."""
    name = str(name).strip()
    if not is_file_name(name):
        raise DataError(f"{name!r}: upload a .csv or .npz file")
    size = len(content)
    if size == 0:
        raise DataError(f"{name} is empty (0 bytes); upload a file with data")
    if size > MAX_UPLOAD_BYTES:
        raise DataError(f"{name} is {_size(size)}; uploads up to {_size(MAX_UPLOAD_BYTES)} are taken: load larger "
                        f"files from disk with load(path) or `explorer train --dataset PATH`")
    src = _Source(name, content=bytes(content))
    return {**_dataset(src, label_column, None, seed, test_fraction), "source": f"upload {name}"}
