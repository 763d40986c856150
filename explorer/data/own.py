"""Your own arrays as a `Dataset`: `from_arrays` checks them the way the registry's data are
checked, maps labels to class indices, splits, shuffles and scales, and returns the Dataset's
fields (dataset.py makes the Dataset: `Dataset.from_arrays`); nothing else.

    ds = Dataset.from_arrays(X, y)                      # 20% of the rows become the test set
    ds = Dataset.from_arrays(X, y, X_test, y_test, name="wine", feature_names=names)

The rules, each stated once here:
  inputs   2-D (n_samples, n_features) real numbers (ints, floats, bools); an array of images
           (n, h, w) or (n, h, w, c) is flattened and its image shape kept. No NaN or inf.
  labels   one per sample, any values: the distinct values, sorted (as numbers when they all
           are numbers, text like "3" included), become classes 0..K-1 and their text the class
           names. With `classes=` given, labels are either indices into it or its names.
           2 <= K <= MAX_CLASSES: a label column of measurements (a regression target) shows
           up as thousands of classes and is refused, with the hint to check the label column.
  split    without X_test, a seeded random `test_fraction` of the rows (at least 1) is the test
           set. The training rows are always shuffled (seeded; `shuffle=False` keeps them with
           a test set given): the trainer walks the training set in order and files are often
           sorted by class.
  scaling  "minmax" (default): per feature, x -> (x - min) / (max - min) with min and max of the
           TRAINING part only (a constant feature becomes 0); test values outside that range
           are clipped to [0, 1] (how many is recorded). "none": the inputs are used as given.
           `Dataset.scaling` records the rule, the per-feature low/high and the clipped count.

Memory: the inputs are copied once into float32 (n_train + n_test) x n_features, and shuffled
and scaled there in place. With `copy=False` and a float32 C-contiguous X that copy is skipped
and X itself is shuffled and scaled (the file readers use this: a CSV loads within ~1x its
float32 array). Every problem is one DataError line saying what was wrong and what to do.
"""

from __future__ import annotations

import math

import numpy as np

from explorer.errors import DataError

MAX_CLASSES = 1000      # ImageNet's count; beyond it the output layer is rarely what was meant
SCALINGS = ("minmax", "none")
_BLOCK = 8192           # rows copied at a time (a float64 input's cast stays this small)


def _inputs(X, what: str, image_shape):
    """(X as a 2-D real array, the image shape): images are flattened, their shape kept."""
    try:
        X = np.asarray(X)
    except Exception:
        raise DataError(f"{what} is not array-like; pass a numpy array of numbers") from None
    if X.dtype == object or X.dtype.kind in "USV" or np.iscomplexobj(X) or X.dtype.kind not in "biuf":
        raise DataError(f"{what} has dtype {X.dtype}; inputs must be real numbers (convert text and categories "
                        f"to numbers first, e.g. X.astype(float))")
    if X.ndim < 2:
        raise DataError(f"{what} has shape {X.shape}; expected (n_samples, n_features), e.g. X.reshape(-1, 1) "
                        f"for one feature")
    if X.ndim > 2:
        shape = tuple(int(s) for s in X.shape[1:])
        if image_shape is not None and tuple(image_shape) != shape:
            raise DataError(f"{what} holds images of shape {shape} but image_shape={tuple(image_shape)}; "
                            f"they must agree (or leave image_shape out)")
        image_shape = shape
        X = X.reshape(len(X), -1)
    if X.shape[1] == 0:
        raise DataError(f"{what} has no features (shape {X.shape}); pass at least one column")
    return X, image_shape


def _finite(X, what: str, names) -> None:
    """DataError at the first NaN or inf, by row and feature (a fast sum first: usually all finite)."""
    if X.dtype.kind in "biu":
        return
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(X.sum()):
            return
    for lo in range(0, len(X), _BLOCK):
        bad = np.argwhere(~np.isfinite(X[lo:lo + _BLOCK]))
        if len(bad):
            r, j = int(bad[0][0]) + lo, int(bad[0][1])
            raise DataError(f"{what}[{r}, {j}] ({names[j]}) is {X[r, j]}: inputs must be finite numbers; impute or "
                            f"drop missing values first")


def _as_numbers(values: np.ndarray):
    """Text labels that all read as numbers, as numbers (so "10" sorts after "9"); else None."""
    try:
        v = values.astype(np.float64)
    except (TypeError, ValueError):
        return None
    return v


def class_indices(y: np.ndarray, classes, labels: str):
    """(int64 class indices, class names) for labels `y` (see the module doc); one DataError line
    for NaN labels, labels outside `classes`, fewer than 2 or more than MAX_CLASSES classes."""
    hint = f"; is {labels} the right column?" if "column" in labels else ""
    if y.dtype == object or y.dtype.kind in "US":
        y = y.astype(str)
        numbers = _as_numbers(y)
        y = numbers if numbers is not None else np.char.strip(y)
    if y.dtype.kind == "b":
        y = y.astype(np.int64)
    if y.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(y))
        if len(bad):
            raise DataError(f"{labels} has no valid label at sample {bad[0]} ({y[bad[0]]}); every sample needs a "
                            f"label: drop the unlabelled rows")
        if np.all(y == np.round(y)) and np.abs(y).max(initial=0) < 2**53:
            y = y.astype(np.int64)
    if classes is not None:
        names = [str(c) for c in classes]
        if len(set(names)) != len(names) or not 2 <= len(names) <= MAX_CLASSES:
            raise DataError(f"classes: expected 2..{MAX_CLASSES:,} distinct names, got {len(names)} "
                            f"({len(set(names))} distinct)")
        if y.dtype.kind in "iu" and (len(y) == 0 or (y.min() >= 0 and y.max() < len(names))):
            return y.astype(np.int64), names
        values, inverse = np.unique(y.astype(str), return_inverse=True)
        index = {n: i for i, n in enumerate(names)}
        missing = [v for v in values.tolist() if v not in index]
        if missing:
            raise DataError(f"{labels} has labels that are neither indices 0..{len(names) - 1} nor among classes "
                            f"(e.g. {missing[0]!r}); pass class indices or the class names")
        return np.array([index[v] for v in values], np.int64)[inverse.reshape(-1)], names
    values, inverse = np.unique(y, return_inverse=True)
    k = len(values)
    if k < 2:
        one = f" ({values.tolist()[0]!r})" if k else ""
        raise DataError(f"{labels} holds {k} class{one}; a classifier needs at least 2{hint}")
    if k > MAX_CLASSES:
        raise DataError(f"{labels} holds {k:,} distinct labels; at most {MAX_CLASSES:,} classes are allowed (a "
                        f"column of measurements is not a label){hint}")
    return inverse.reshape(-1).astype(np.int64), [str(v) for v in values.tolist()]


def _permute_rows(X: np.ndarray, perm: np.ndarray) -> None:
    """X[:] = X[perm], in place with one row of extra memory (numpy has no in-place permutation,
    and X[perm] would double the peak). Python-level cycle walking: ~1 us a row."""
    done = np.zeros(len(perm), bool)
    for start in np.flatnonzero(perm != np.arange(len(perm))):
        if done[start]:
            continue
        tmp = X[start].copy()
        j = start
        while True:
            k = perm[j]
            done[j] = True
            if k == start:
                X[j] = tmp
                break
            X[j] = X[k]
            j = k


def _scale(X: np.ndarray, n_train: int, rule: str) -> dict:
    """Scale X in place by `rule`, fit on X[:n_train]; the record of what was done."""
    if rule == "none":
        return {"rule": "none: inputs used as given"}
    train, test = X[:n_train], X[n_train:]
    lo, hi = train.min(axis=0), train.max(axis=0)
    span = hi - lo
    span[span == 0] = 1                  # a constant feature becomes 0
    clipped = 0
    for part in (train, test):           # in place, a block of rows at a time: no full-size temporaries
        for a in range(0, len(part), _BLOCK):
            b = part[a:a + _BLOCK]
            np.subtract(b, lo, out=b)
            np.divide(b, span, out=b)
            if part is test:
                clipped += int(np.count_nonzero((b < 0) | (b > 1)))
            np.clip(b, 0, 1, out=b)
    return {"rule": "minmax: per feature (x - low) / (high - low), low and high of the training part; test "
                    "values outside [0, 1] clipped", "low": lo, "high": hi, "test_values_clipped": clipped}


def _count(name, value, lo=0):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise DataError(f"{name} must be a whole number >= {lo}, got {value!r}")
    return int(value)


def from_arrays(X, y, X_test=None, y_test=None, *, name="arrays", classes=None, image_shape=None,
                feature_names=None, test_fraction=0.2, seed=0, scale="minmax", shuffle=True, copy=True,
                source="", sha256="", labels="y") -> dict:
    """The fields of a checked, split, scaled Dataset made from arrays (`Dataset(**fields)`; see
    the module docstring). `labels` names the labels in messages ("the label column 'quality'")."""
    if not isinstance(name, str) or not name.strip():
        raise DataError(f"name must be a non-empty string, got {name!r}")
    seed = _count("seed", seed)
    if scale not in SCALINGS:
        raise DataError(f"scale={scale!r}; expected one of {', '.join(SCALINGS)}")
    X, image_shape = _inputs(X, "X", image_shape)
    n, F = X.shape
    if image_shape is not None:
        image_shape = tuple(_count("image_shape", s, 1) for s in image_shape)
        if math.prod(image_shape) != F:
            raise DataError(f"image_shape={image_shape} has {math.prod(image_shape)} pixels but X has {F} features")
    if feature_names is None:
        names = [f"x{j}" for j in range(F)]
    else:
        names = [str(s) for s in feature_names]
        if len(names) != F:
            raise DataError(f"feature_names has {len(names)} names for {F} features; give one per column of X")
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise DataError(f"{labels} has shape {y.shape} for {n} samples; pass one label per row of X")
    if (X_test is None) != (y_test is None):
        raise DataError("pass both X_test and y_test, or neither (then test_fraction of the rows is the test set)")
    _finite(X, "X", names)
    if X_test is None:
        if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) or \
                not 0 < test_fraction < 1:
            raise DataError(f"test_fraction={test_fraction!r}; expected a number between 0 and 1 (exclusive)")
        if n < 2:
            raise DataError(f"only {n} sample(s); a training and a test set need at least 2")
        n_test = min(n - 1, max(1, round(n * test_fraction)))
        y_all = y
    else:
        Xt, _ = _inputs(X_test, "X_test", image_shape)
        if Xt.shape[1] != F:
            raise DataError(f"X_test has {Xt.shape[1]} features but X has {F}; they must match")
        yt = np.asarray(y_test)
        if yt.ndim != 1 or len(yt) != len(Xt):
            raise DataError(f"y_test has shape {yt.shape} for {len(Xt)} test samples; pass one label per row")
        if n == 0:
            raise DataError("X has no rows; the training set needs at least 1 sample")
        _finite(Xt, "X_test", names)
        n_test = len(Xt)
        y_all = np.concatenate([y, yt]) if y.dtype.kind == yt.dtype.kind else \
            np.concatenate([y.astype(str), yt.astype(str)])
    codes, class_names = class_indices(y_all, classes, labels)
    rng = np.random.default_rng([seed, 7])
    if X_test is None:      # one buffer: the first n - n_test rows train, the rest test
        perm = rng.permutation(n)
        n_train = n - n_test
    else:
        perm = rng.permutation(n) if shuffle else np.arange(n)
        n_train = n
    in_place = not copy and X.dtype == np.float32 and X.flags.c_contiguous and X_test is None
    if in_place:
        buf = X
        _permute_rows(buf, perm)
    else:
        buf = np.empty((n_train + n_test, F), np.float32)
        for a in range(0, n, _BLOCK):
            b = min(a + _BLOCK, n)
            buf[a:b] = X[perm[a:b]]
        if X_test is not None:
            buf[n:] = Xt  # (cast a block at a time by numpy)
    codes = np.concatenate([codes[:n][perm], codes[n:]])
    scaling = _scale(buf, n_train, scale)
    return dict(name=name.strip(), X_train=buf[:n_train], y_train=codes[:n_train], X_test=buf[n_train:],
                y_test=codes[n_train:], image_shape=image_shape, classes=class_names, source=source or "arrays",
                feature_names=names, scaling=scaling, sha256=sha256)
