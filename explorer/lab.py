"""`explorer lab [--voila] [--port P] [NOTEBOOK]`: open the dashboard notebook in JupyterLab
(or serve it as an app with Voila).

Which notebook: NOTEBOOK if given; else the package's own notebooks/01-explore.ipynb (in the
repository the package is installed from); else a one-cell dashboard notebook this module
writes into the per-user cache. Never one found in the current folder: a checkout you do not
trust must not get its code run by `explorer lab`.

Nothing from the current folder or the notebook's folder runs either:
- the server starts in an empty folder of explorer's own (the cache's lab/empty), not in the
  notebook's folder or the current one: Jupyter and Voila read config files (voila.py,
  voila.json, jupyter_*_config.py) from the folder they start in, and voila.py is Python;
  the notebooks are served from the notebook's folder (root_dir);
- Python starts with -P and PYTHONSAFEPATH=1 (3.11+), so neither `python -m voila` nor the kernel's
  `python -m ipykernel_launcher` (which runs in the notebook's folder) puts its folder on
  sys.path: an ipykernel_launcher.py or socket.py there is not imported;
- the kernel is explorer's `python3` kernel spec (JUPYTER_PATH), which adds --ignore-cwd:
  IPython otherwise puts the kernel's folder on sys.path before site-packages. A notebook
  that imports a module from its own folder must add that folder to sys.path itself.

Stopping: the server runs in its own session, so a terminal's Ctrl-C reaches only this process,
which stops the server in order (SIGTERM; Voila then removes its /tmp/voila_* folder and ends
its kernels) and exits; so do SIGTERM and SIGHUP. If this process is killed outright, the server
gets SIGTERM from Linux (PR_SET_PDEATHSIG). A bad --port is one line, before anything starts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
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


def check_port(port) -> int | None:
    """None (the server's default), or a TCP port 1..65535; else a one-line ExplorerError."""
    if port is None:
        return None
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ExplorerError(f"--port {str(port)[:20]}: expected a TCP port, a whole number in 1..65535")
    return port


def kernel_folder(folder: Path | None = None) -> Path:
    """A Jupyter data folder holding explorer's `python3` kernel spec (this Python, -P, IPython's
    --ignore-cwd), put first on JUPYTER_PATH so that it stands for the usual python3 kernel.
    (Re)written each time, so what runs is always this module's."""
    from .export import write_text_atomic

    base = Path(folder if folder is not None else generated_folder()) / "jupyter"
    spec = {"argv": [sys.executable, "-P", "-m", "ipykernel_launcher", "--ignore-cwd", "-f", "{connection_file}"],
            "display_name": "Python 3 (ipykernel)", "language": "python", "metadata": {"debugger": True}}
    if sys.version_info < (3, 11):
        spec["argv"].remove("-P")
    path = base / "kernels" / "python3" / "kernel.json"
    text = json.dumps(spec, indent=1)
    if not path.is_file() or path.read_text(encoding="utf-8", errors="replace") != text:
        write_text_atomic(path, text)
    return base


def empty_folder(folder: Path | None = None) -> Path:
    """The folder the server starts in: explorer's own, with nothing in it (no config file)."""
    d = Path(folder if folder is not None else generated_folder()) / "empty"
    d.mkdir(parents=True, exist_ok=True)
    if any(d.iterdir()):
        raise ExplorerError(f"{d} should be empty (the server starts there, and Jupyter reads config files "
                            f"from it); empty it")
    return d


def command(notebook: Path, voila: bool = False, port: int | None = None) -> tuple[list[str], Path]:
    """(argv, working folder) of the server for `notebook`: Python with -P (3.11+), in
    `empty_folder()`, serving the notebook's folder."""
    notebook = Path(notebook).resolve()
    cmd = [sys.executable] + (["-P"] if sys.version_info >= (3, 11) else [])
    cmd += ["-m", "voila" if voila else "jupyterlab", str(notebook)]
    root = notebook if notebook.is_dir() else notebook.parent
    cmd.append(f"--Voila.root_dir={root}" if voila else f"--ServerApp.root_dir={root}")
    if check_port(port) is not None:
        cmd.append(f"--port={int(port)}")
    return cmd, empty_folder()


def server_env(env=None) -> dict:
    """The server's environment: PYTHONSAFEPATH for it and its kernels, explorer's kernel spec first."""
    env = dict(os.environ if env is None else env)
    env["PYTHONSAFEPATH"] = "1"
    env["JUPYTER_PATH"] = os.pathsep.join([str(kernel_folder()), *filter(None, [env.get("JUPYTER_PATH")])])
    return env


def _die_with_parent() -> None:  # in the child, before exec: SIGTERM when explorer lab ends
    from .experiments.pool import pdeathsig

    pdeathsig(signal.SIGTERM)


def launch(voila: bool = False, port: int | None = None, notebook=None) -> int:
    """Start JupyterLab (or Voila) on `notebook` or the dashboard notebook; returns the server's
    exit code (0 after a Ctrl-C). A `notebook` that does not exist or a bad port is an
    ExplorerError, before anything starts."""
    check_port(port)
    nb = find_notebook(notebook) or write_dashboard_notebook()
    cmd, cwd = command(nb, voila, port)
    print(f"explorer lab: {' '.join(cmd)}  (in {cwd})", file=sys.stderr)
    stop = []

    def ask_stop(signum, frame):  # the first: stop in order; a second: at once
        stop.append(signum)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM if len(stop) == 1 else signal.SIGKILL)

    proc = subprocess.Popen(cmd, cwd=cwd, env=server_env(), start_new_session=True, preexec_fn=_die_with_parent)
    old = {s: signal.signal(s, ask_stop) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        deadline = None
        while proc.poll() is None:
            if stop and deadline is None:
                deadline = time.monotonic() + STOP_SECONDS
            if deadline is not None and time.monotonic() > deadline:  # asked to stop, still running
                proc.kill()
            try:
                proc.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                pass
        code = proc.returncode
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if stop:
        print(f"explorer lab: stopped ({signal.Signals(stop[0]).name})", file=sys.stderr)
        return 0 if stop[0] == signal.SIGINT else 128 + stop[0]
    return code


STOP_SECONDS = 15.0  # the server's time to stop in order (its kernels, its files) before it is killed
