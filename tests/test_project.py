"""Project-wide promises: the core stays pure, the code is ruff-clean, the README's two
commands are the ones CI and users run."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# the core: what a run needs, with no widgets, plots, process pools or file export
CORE = ["config", "data", "engine.net", "engine.kernels", "engine.blas", "sparsity.prune", "engine.engines",
        "training.state", "training.series", "training.trainer", "training.callbacks", "stats", "errors"]


def test_core_imports_no_widget_plotting_sweep_or_export_module():
    code = (
        "import sys\n"
        + "".join(f"import explorer.{m}\n" for m in CORE)
        + "from explorer import RunConfig, Trainer, load\n"
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('plotly', 'ipywidgets', 'IPython', 'matplotlib', 'anywidget', 'dask') "
        "or m in ('explorer.experiments.sweeps', 'explorer.export', 'explorer.experiments.summary', "
        "'explorer.experiments.reproduce', 'explorer.app'))\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"the core imported {out}"


def _import_graph() -> dict:
    """module -> the explorer modules it imports, at module level or inside functions."""
    pkg = ROOT / "explorer"
    mods = {}
    for p in pkg.rglob("*.py"):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    graph = {}
    for m, p in mods.items():
        here = m.split(".") if p.name == "__init__.py" else m.split(".")[:-1]
        edges = set()
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("explorer")):
                base = ".".join(here[: len(here) - node.level + 1] + [node.module] if node.module else
                                here[: len(here) - node.level + 1]) if node.level else node.module
                for a in node.names:
                    edges.add(f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base)
            elif isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name.startswith("explorer")}
        graph[m] = {e for e in edges if e in mods and e != m}
    return graph


def test_no_import_cycle_in_the_package():
    graph, state, cycles = _import_graph(), {}, []

    def visit(m, path):
        state[m] = "open"
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                cycles.append(" -> ".join(path[path.index(n):] + [m, n]) if n in path else f"{m} -> {n}")
            elif n not in state:
                visit(n, path + [m])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
    assert len(graph) > 30 and not cycles, cycles


def test_no_module_is_over_450_lines():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "explorer").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 470}
    assert not long, long


def test_ruff_clean():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    r = subprocess.run([ruff, "check", "explorer", "tests", "benchmarks", "notebooks"], cwd=ROOT, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout[-3000:]


def test_readme_has_the_two_commands_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash .ci/run" in readme and "pip install -e" in readme
    assert "python3 -m pytest" in ci and "python3 -m pytest" in readme


def test_cli_entry_point_runs():
    r = subprocess.run([sys.executable, "-m", "explorer", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "train" in r.stdout
