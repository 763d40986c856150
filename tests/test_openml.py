"""load("openml:NAME_OR_ID"): real OpenML calls where the network allows (marked `network`,
skipped with the reason where api.openml.org does not answer), cached in the explorer cache so
a second load needs no network; offline -- here made certain by a proxy on a closed port -- it
fails in one line, in the API and the command line."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from explorer.data import DataError, load
from explorer.data.sources import answers

API = "https://api.openml.org/api/v1/json/data/61"


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _offline_env(cache) -> dict:
    """Every HTTP(S) request through a proxy on a closed port: a real, certain network failure."""
    proxy = f"http://127.0.0.1:{_closed_port()}"
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "http_proxy", "https_proxy")}
    return {**env, "http_proxy": proxy, "https_proxy": proxy, "HTTP_PROXY": proxy, "HTTPS_PROXY": proxy,
            "EXPLORER_CACHE": str(cache)}


@pytest.fixture
def openml_online():
    if not answers([API], timeout=5):
        pytest.skip("OpenML (api.openml.org) does not answer from here: no network")


def test_offline_openml_is_one_line(tmp_path):
    code = ("from explorer.data import load\n"
            "try:\n    load('openml:61')\nexcept Exception as e:\n    print(type(e).__name__, '|', e)\n")
    out = subprocess.run([sys.executable, "-c", code], env=_offline_env(tmp_path / "cache"), capture_output=True,
                         text=True, timeout=120)
    kind, msg = out.stdout.strip().split(" | ", 1)
    assert kind == "DataError" and "\n" not in msg, out
    assert msg.startswith("openml:61: OpenML cannot be reached") and "save the data as CSV" in msg
    cli = subprocess.run([sys.executable, "-m", "explorer", "train", "--dataset", "openml:61"],
                         env=_offline_env(tmp_path / "cache"), capture_output=True, text=True, timeout=120)
    assert cli.returncode == 2 and len(cli.stderr.splitlines()) == 1, cli.stderr
    assert cli.stderr.startswith("explorer: error: openml:61: OpenML cannot be reached")


def test_openml_names_are_checked():
    with pytest.raises(DataError, match="name an OpenML data set after 'openml:'"):
        load("openml:  ")


@pytest.mark.network
def test_openml_by_id_and_by_name_cached_for_offline_use(openml_online, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_CACHE", str(tmp_path / "cache"))
    ds = load("openml:61")  # iris
    assert (ds.n_train + ds.n_test, ds.n_features, ds.n_classes) == (150, 4, 3)
    assert ds.name == "openml:iris" and "OpenML data set 61" in ds.source and len(ds.feature_names) == 4
    assert ds.X_train.min() == 0 and ds.X_train.max() == 1
    assert (tmp_path / "cache" / "openml").is_dir()
    by_name = load("openml:iris")
    assert np.array_equal(by_name.X_train, ds.X_train)
    code = "from explorer.data import load\nd = load('openml:61')\nprint(d.n_train + d.n_test, d.n_classes)\n"
    out = subprocess.run([sys.executable, "-c", code], env=_offline_env(tmp_path / "cache"), capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.split() == ["150", "3"], out.stderr  # from the cache, with the network cut
