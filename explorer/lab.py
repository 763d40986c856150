"""`explorer lab [--voila] [--port P]`: open the dashboard notebook in JupyterLab (or serve
it as an app with Voila). Uses notebooks/01-explore.ipynb from the current folder or the
package's repository; if there is none, writes a one-cell dashboard notebook and opens that.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CELL = 'from explorer import Explorer\n\nExplorer(dataset="auto")\n'


def find_notebook() -> Path | None:
    for base in (Path.cwd(), Path(__file__).resolve().parents[1]):
        p = base / "notebooks" / "01-explore.ipynb"
        if p.is_file():
            return p
    return None


def write_dashboard_notebook(folder: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# explorer dashboard"), nbformat.v4.new_code_cell(CELL)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "explorer-dashboard.ipynb"
    if not path.exists():
        nbformat.write(nb, str(path))
    return path


def launch(voila: bool = False, port: int | None = None) -> int:
    """Start JupyterLab (or Voila) on the dashboard notebook; returns the server's exit code."""
    nb = find_notebook() or write_dashboard_notebook(Path.cwd())
    if voila:
        cmd = [sys.executable, "-m", "voila", str(nb)]
    else:
        cmd = [sys.executable, "-m", "jupyterlab", str(nb)]
    if port is not None:
        cmd.append(f"--port={int(port)}")
    print(f"explorer lab: {' '.join(cmd)}", file=sys.stderr)
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 0
