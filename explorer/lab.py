"""`explorer lab [--voila] [--port P] [NOTEBOOK]`: open the dashboard notebook in JupyterLab
(or serve it as an app with Voila).

Which notebook: NOTEBOOK if given; else the package's own notebooks/01-explore.ipynb (in the
repository the package is installed from); else a one-cell dashboard notebook this module
writes into the per-user cache. Never one found in the current folder: a checkout you do not
trust must not get its code run by `explorer lab`. For the same reason the server starts in
the notebook's folder, so neither `python -m` nor Jupyter/Voila picks up modules or config
files (voila.json, jupyter_*_config.py) from the folder you happen to be in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .errors import ExplorerError

CELL = 'from explorer import Explorer\n\nExplorer(dataset="auto")\n'
NOTEBOOK = "01-explore.ipynb"


def packaged_notebook() -> Path | None:
    """notebooks/01-explore.ipynb of the repository this package is installed from, if it is there."""
    import explorer

    p = Path(explorer.__file__).resolve().parents[1] / "notebooks" / NOTEBOOK
    return p if p.is_file() else None


def find_notebook(path=None) -> Path | None:
    """The notebook to open: `path` (must exist) if given, else the packaged one, else None.
    The current folder is never searched."""
    if path is not None:
        p = Path(path).expanduser()
        if os.fspath(path) == "" or not p.exists():
            raise ExplorerError(f"notebook {str(path)!r}: no such file; give the path of a .ipynb file, "
                                f"or none for the dashboard")
        return p.resolve()
    return packaged_notebook()


def generated_folder() -> Path:
    """Where the one-cell dashboard notebook goes: $EXPLORER_CACHE/lab or the user cache's explorer/lab."""
    from .data import cache_dir  # its checks too: $EXPLORER_CACHE naming a file is one line

    return cache_dir() / "lab"


def write_dashboard_notebook(folder: Path | None = None) -> Path:
    """The one-cell dashboard notebook, (re)written with this module's content in `folder`
    (default: generated_folder()), so what runs is always ours."""
    import nbformat

    from .export import write_text_atomic

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# explorer dashboard"), nbformat.v4.new_code_cell(CELL)]
    for i, cell in enumerate(nb.cells):  # fixed ids: the same file every time
        cell["id"] = f"explorer-{i}"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = Path(folder if folder is not None else generated_folder()) / "explorer-dashboard.ipynb"
    text = nbformat.writes(nb)
    if not path.is_file() or path.read_text(encoding="utf-8", errors="replace") != text:
        write_text_atomic(path, text)
    return path


def command(notebook: Path, voila: bool = False, port: int | None = None) -> tuple[list[str], Path]:
    """(argv, working folder) of the server for `notebook`: started in the notebook's folder,
    with Python told not to put that folder first on sys.path where it can (3.11+: -P)."""
    notebook = Path(notebook).resolve()
    cmd = [sys.executable] + (["-P"] if sys.version_info >= (3, 11) else [])
    cmd += ["-m", "voila" if voila else "jupyterlab", str(notebook)]
    if port is not None:
        cmd.append(f"--port={int(port)}")
    return cmd, notebook if notebook.is_dir() else notebook.parent


def launch(voila: bool = False, port: int | None = None, notebook=None) -> int:
    """Start JupyterLab (or Voila) on `notebook` or the dashboard notebook; returns the server's
    exit code. A `notebook` that does not exist is an ExplorerError."""
    nb = find_notebook(notebook) or write_dashboard_notebook()
    cmd, cwd = command(nb, voila, port)
    print(f"explorer lab: {' '.join(cmd)}  (in {cwd})", file=sys.stderr)
    try:
        return subprocess.call(cmd, cwd=cwd)
    except KeyboardInterrupt:
        return 0
