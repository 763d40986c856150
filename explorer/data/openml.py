"""OpenML data sets: `load("openml:NAME_OR_ID")` -> a `Dataset`'s fields, through scikit-learn's
`fetch_openml`, cached like the other data sets (in `<cache>/openml/`, where a second load --
also offline -- reads the cached copy).

"openml:61" is a data id, "openml:iris" a name (its active version; the source says which).
Nominal features come as their category codes (scikit-learn's liac-arff parser), the default
target as the labels; from there it is Dataset.from_arrays: a seeded 20% test split, min-max
scaling on the training part. Offline (or OpenML down) it fails in one line. Sockets opened
by the fetch time out after SOCKET_TIMEOUT seconds of silence, so a dead network cannot hang it.
"""

from __future__ import annotations

import contextlib
import socket
import warnings

import numpy as np

from explorer.data.own import from_arrays
from explorer.errors import DataError

PREFIX = "openml:"
SOCKET_TIMEOUT = 30.0


def is_openml_name(name) -> bool:
    return isinstance(name, str) and name.strip().lower().startswith(PREFIX)


def openml_key(name: str) -> str:
    """'openml: Iris ' -> 'openml:Iris'; DataError if nothing follows the prefix."""
    key = name.strip()[len(PREFIX):].strip()
    if not key:
        raise DataError(f"{name!r}: name an OpenML data set after 'openml:', e.g. openml:iris or openml:61")
    return PREFIX + key


@contextlib.contextmanager
def _socket_timeout(seconds):
    # fetch_openml's urlopen has no timeout of its own; sockets it opens take the default
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def load_openml(name: str, seed=0, test_fraction=0.2) -> dict:
    """The OpenML data set `name` ("openml:iris" or "openml:61") as a Dataset's fields."""
    from sklearn.datasets import fetch_openml

    from explorer.data.sources import cache_dir

    key = openml_key(name)[len(PREFIX):]
    which = {"data_id": int(key)} if key.isdigit() else {"name": key}
    home = cache_dir() / "openml"
    try:
        with _socket_timeout(SOCKET_TIMEOUT), warnings.catch_warnings():
            # "multiple active versions ... returning version 1": the source below says which version
            warnings.simplefilter("ignore", UserWarning)
            bunch = fetch_openml(**which, data_home=str(home), as_frame=False, parser="liac-arff", n_retries=1,
                                 delay=0.5)
    except OSError as e:  # URLError, timeouts, DNS failures: offline or OpenML down
        reason = getattr(e, "reason", None) or e.strerror or str(e) or type(e).__name__
        raise DataError(f"openml:{key}: OpenML cannot be reached ({reason}); with a network it is downloaded once "
                        f"and cached, or save the data as CSV and pass its path") from None
    except Exception as e:  # an unknown name, an odd data set: scikit-learn says which, in its own words
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"openml:{key}: {first}") from None
    X, y = bunch.data, bunch.target
    if hasattr(X, "toarray"):
        raise DataError(f"openml:{key} is stored sparse; explorer trains on dense inputs: convert a subset to CSV")
    if y is None or np.ndim(y) != 1:
        raise DataError(f"openml:{key} has no single target column to use as the label; save it as CSV and pick "
                        f"one with --label-column")
    d = bunch.details
    source = f"OpenML data set {d.get('id')} {d.get('name')!r} version {d.get('version')} (cached in {home})"
    try:
        return from_arrays(np.asarray(X, dtype=np.float64), np.asarray(y), name=f"openml:{d.get('name', key)}",
                           feature_names=list(bunch.feature_names), seed=seed, test_fraction=test_fraction,
                           source=source)
    except DataError as e:
        raise DataError(f"openml:{key}: {e}") from None
