"""Project-wide promises: the packages import one way (the table below), the core stays pure,
the code is ruff-clean, the README's two commands are the ones CI and users run."""

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# package -> the packages it may import. A package is explorer/NAME/ or a top-level module
# explorer/NAME.py; "explorer" is the top-level __init__ (the public API: its names are looked up
# on first use, from its _WHERE table). README.md's Architecture section draws this table.
ALLOWED = {
    "errors": set(),
    "engine": set(),
    "data": {"errors"},
    "owned": {"errors"},
    "jsonio": {"errors"},
    "files": {"owned", "errors"},
    "sparsity": {"engine", "errors"},
    "stats": {"sparsity", "errors"},
    "config": {"data", "sparsity", "jsonio", "errors"},
    "config_text": {"config", "errors"},
    "training": {"config", "data", "engine", "sparsity", "stats", "errors"},
    "views": {"training", "sparsity", "stats", "errors"},
    "export": {"files", "errors"},
    "experiments": {"training", "config", "data", "engine", "sparsity", "views", "export", "files", "errors"},
    "app": {"experiments", "views", "training", "config", "config_text", "data", "sparsity", "export", "errors"},
    "explorer": {"app", "experiments", "training", "config", "data", "errors"},
    "lab": {"explorer", "experiments", "data", "export", "errors"},
    "cli": {"lab", "experiments", "training", "config", "config_text", "data", "export", "files", "errors"},
    "__main__": {"cli"},
}
# the core: what a run needs; it imports no widgets, plots, sweeps, commands or file export
CORE = ["config", "data", "engine", "sparsity", "stats", "training", "jsonio", "errors"]
ABOVE_CORE = ["experiments", "views", "app", "cli", "lab", "export"]
# the numba kernels: they import only each other (the kernels' math, dropout's hash), nothing above
KERNELS = {f"explorer.engine.{m}" for m in ("kmath", "dropout", "kernels", "b1", "wide")}


def _package(module: str) -> str:
    """explorer.engine.b1 -> engine, explorer.config -> config, explorer -> explorer."""
    return module.split(".")[1] if "." in module else module


def _reach(package: str) -> set:
    """Every package `package` may import, directly or through others."""
    seen, todo = set(), [package]
    while todo:
        for q in ALLOWED[todo.pop()] - seen:
            seen.add(q)
            todo.append(q)
    return seen


def _core_modules() -> list:
    mods = []
    for p in sorted((ROOT / "explorer").rglob("*.py")):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        if len(parts) > 1 and _package(".".join(parts)) in CORE:
            mods.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return mods


def test_core_imports_no_widget_plotting_sweep_or_export_module():
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in _core_modules())
        + "from explorer import RunConfig, Trainer, load\n"
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('plotly', 'ipywidgets', 'IPython', 'matplotlib', 'anywidget', 'dask') "
        f"or m.split('.')[0] == 'explorer' and len(m.split('.')) > 1 and m.split('.')[1] in {ABOVE_CORE!r})\n"
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


def test_the_package_table_is_one_way_and_names_every_package():
    on_disk = {p.stem for p in (ROOT / "explorer").glob("*.py") if p.stem != "__init__"}
    on_disk |= {p.parent.name for p in (ROOT / "explorer").glob("*/__init__.py")}
    assert on_disk | {"explorer"} == set(ALLOWED), "add the package to ALLOWED (and README.md's table)"
    cyclic = sorted(p for p in ALLOWED if p in _reach(p))
    assert not cyclic, f"the table lets these packages import themselves through others: {cyclic}"
    for p in CORE:
        assert not _reach(p) & set(ABOVE_CORE), (p, _reach(p) & set(ABOVE_CORE))


def test_every_import_obeys_the_package_table():
    edges = {(m, d) for m, deps in _import_graph().items() for d in deps}
    import explorer  # its names are imported on first use: the lazy table counts as imports

    edges |= {("explorer", f"explorer.{where}") for where in explorer._WHERE.values()}
    bad = sorted(f"{m} -> {d}" for m, d in edges
                 if _package(m) != _package(d) and _package(d) not in ALLOWED[_package(m)])
    assert not bad, f"imports the package table (ALLOWED) does not allow: {bad}"


def test_numba_kernels_import_only_each_other():
    graph = _import_graph()
    assert KERNELS <= set(graph)
    bad = {m: sorted(graph[m] - KERNELS) for m in sorted(KERNELS) if graph[m] - KERNELS}
    assert not bad, bad


def test_each_package_says_what_it_may_import():
    """Each package's docstring has a paragraph 'May import: A, B and C; never D ...' naming, before
    any 'never', exactly the packages the table allows it."""
    names = set(ALLOWED) - {"explorer", "__main__"}
    for init in sorted((ROOT / "explorer").glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "May import" in doc, f"{init.relative_to(ROOT)}: its docstring should say what the package may import"
        may = re.split(r"\bnever\b", doc[doc.index("May import"):].split("\n\n")[0], flags=re.I)[0]
        named = {n for n in names if re.search(rf"\b{n}\b", may)}
        assert named == ALLOWED[init.parent.name], (str(init.relative_to(ROOT)), named, ALLOWED[init.parent.name])


def test_readme_draws_the_package_table():
    """README.md's Architecture table gives each package what ALLOWED does (besides errors)."""
    readme = (ROOT / "README.md").read_text()
    rows = {}
    for line in readme[readme.index("| package | what lives there |"):].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        name = cells[0].strip("`").removesuffix("/").removesuffix(".py").removesuffix("/__init__")
        rows[name] = set(re.findall(r"`(\w+)`", cells[2])) - {"errors"}
    assert rows == {p: ALLOWED[p] - {"errors"} for p in ALLOWED if p not in ("errors", "__main__")}
    assert all("errors" in ALLOWED[p] for p in ALLOWED if p not in ("engine", "errors", "__main__"))


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
