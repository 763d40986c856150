"""Binder's files: pinned requirements ending with `.`, a postBuild that bash accepts, and
(slow, needs PyPI) a real install of binder/requirements.txt into a fresh virtual environment,
as repo2docker does it, followed by imports and a tiny training run inside that environment."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(\[[A-Za-z0-9_,.-]+\])?==[0-9][A-Za-z0-9.+!-]*$")


def _requirements() -> list[str]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_requirements_are_pinned_and_end_with_the_package():
    reqs = _requirements()
    assert reqs[-1] == ".", "the last requirement must be `.` (installs this package)"
    bad = [r for r in reqs[:-1] if not PIN.match(r)]
    assert not bad, f"not pinned with ==: {bad}"
    pinned = {_norm(PIN.match(r).group(1)) for r in reqs[:-1]}
    needed = [d for d in metadata.requires("explorer") if "extra ==" not in d or re.search(r'extra == "(lab|dask)"', d)]
    names = {_norm(re.match(r"[A-Za-z0-9_.-]+", d).group(0)) for d in needed}
    assert names <= pinned, f"runtime needs not pinned for Binder: {sorted(names - pinned)}"


def test_runtime_matches_the_package():
    text = (BINDER / "runtime.txt").read_text().strip()
    m = re.fullmatch(r"python-3\.(\d+)", text)
    assert m, f"runtime.txt: {text!r}; expected e.g. python-3.11"
    requires = metadata.metadata("explorer")["Requires-Python"]  # e.g. ">=3.10"
    assert int(m.group(1)) >= int(re.search(r"3\.(\d+)", requires).group(1))


def test_postbuild_is_executable_and_parses():
    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK), "binder/postBuild must be executable (chmod +x)"
    text = post.read_text()
    assert text.startswith("#!/usr/bin/env bash")
    assert "explorer data fetch mnist" in text and "plotly_get_chrome" in text
    subprocess.run(["bash", "-n", str(post)], check=True)


def test_readme_badge_opens_the_explore_notebook():
    readme = (ROOT / "README.md").read_text()
    assert "https://mybinder.org/badge_logo.svg" in readme
    assert "?labpath=notebooks%2F01-explore.ipynb" in readme
    assert (ROOT / "notebooks" / "01-explore.ipynb").is_file()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_requirements_install_into_a_fresh_venv_and_work(tmp_path):
    """What repo2docker does: a plain venv (no system site-packages), then
    `pip install -r binder/requirements.txt` from the repository root. Needs PyPI; takes a few
    minutes. The repository is copied first, so the build leaves nothing in the working tree."""
    want = (BINDER / "runtime.txt").read_text().strip()
    have = f"python-{sys.version_info.major}.{sys.version_info.minor}"
    if want != have:
        pytest.skip(f"binder/runtime.txt asks for {want}; this interpreter is {have}")
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, repo / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
    for name in ("explorer", "binder"):
        shutil.copytree(ROOT / name, repo / name, ignore=ignore)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    t0 = time.perf_counter()
    r = subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r",
                        "binder/requirements.txt"], cwd=repo, capture_output=True, text=True, timeout=840)
    offline = ("NewConnectionError", "Temporary failure in name resolution", "Network is unreachable")
    if r.returncode and any(w in r.stderr for w in offline):
        pytest.skip(f"PyPI is not reachable from here: {r.stderr.strip().splitlines()[-1]}")
    assert r.returncode == 0, r.stderr[-3000:]
    print(f"pip install -r binder/requirements.txt: {time.perf_counter() - t0:.0f} s")
    check = (
        "import sys, explorer, plotly, ipywidgets, anywidget, numba, kaleido, dask.distributed, voila\n"
        "assert 'site-packages' in explorer.__file__ and sys.prefix != sys.base_prefix\n"
        "from explorer import RunConfig, Trainer, load\n"
        "from explorer.app import Explorer\n"
        "from explorer.experiments.sweeps import sweep\n"
        "t = Trainer(RunConfig(dataset='digits', hidden=(16,), burn_in=20, steps=300)).fit(load('digits'))\n"
        "assert t.results_['engine'] == 'numba' and 0 < t.results_['test_accuracy'] <= 1, t.results_\n"
        "print('ok', explorer.__version__, plotly.__version__, ipywidgets.__version__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    r = subprocess.run([py, "-c", check], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr[-3000:]
    r = subprocess.run([str(venv / "bin" / "explorer"), "data", "list"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "digits" in r.stdout
    pip_check = subprocess.run([py, "-m", "pip", "check"], capture_output=True, text=True)
    assert pip_check.returncode == 0, pip_check.stdout
