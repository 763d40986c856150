"""Project-wide promises: the core stays pure, the code is ruff-clean, the README's two
commands are the ones CI and users run."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ["config", "data", "net", "prune", "trainer", "callbacks", "stats", "errors", "export", "cli"]


def test_core_imports_no_widget_or_plotting_library():
    code = (
        "import sys\n"
        + "".join(f"import explorer.{m}\n" for m in CORE)
        + "from explorer import RunConfig, Trainer, load\n"
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('plotly', 'ipywidgets', 'IPython', 'matplotlib', 'anywidget'))\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"the core imported {out}"


def test_ruff_clean():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    r = subprocess.run([ruff, "check", "explorer", "tests", "benchmarks"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:]


def test_readme_has_the_two_commands_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash .ci/run" in readme and "pip install -e" in readme
    assert "python3 -m pytest" in ci and "python3 -m pytest" in readme


def test_cli_entry_point_runs():
    r = subprocess.run([sys.executable, "-m", "explorer", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "train" in r.stdout
