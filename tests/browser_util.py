"""Helpers for the real-browser tests: a Voila or JupyterLab server on 127.0.0.1 (own process group) and
Debian's Chromium through Playwright, with every request off 127.0.0.1 blocked."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"  # screenshots (gitignored)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_notebook(path: Path, source: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


@contextlib.contextmanager
def voila(notebook: Path, timeout: float = 30.0):
    """Serve `notebook` with Voila; yields its URL; stops the whole process group after."""
    port = free_port()
    log = open(notebook.with_suffix(".voila.log"), "wb")
    cmd = [sys.executable, "-m", "voila", str(notebook), "--no-browser", "--Voila.ip=127.0.0.1",
           f"--port={port}", "--Voila.port_retries=0"]
    yield from _serve(cmd, notebook.parent, None, port, log, "voila", timeout)


def block_outside(route):
    url = route.request.url
    if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
        return route.continue_()
    return route.abort()


TRACE_JS = """([name, field]) => {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const t = (gd.data || []).find(d => d.name === name);
    if (t) return Array.from(t[field] || []);
  }
  return null;
}"""


@contextlib.contextmanager
def jupyter_lab(root: Path, timeout: float = 60.0):
    """Serve `root` with JupyterLab on 127.0.0.1 (no token, as root allowed, a throwaway Jupyter
    config/data/runtime and IPython dir under `root`/.jupyter-home); yields the base URL; stops
    the whole process group after. The server log goes to `root`/jupyter-lab.log."""
    port = free_port()
    home = root / ".jupyter-home"
    env = dict(os.environ)
    for var, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                     ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")):
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    env["JUPYTER_PLATFORM_DIRS"] = "0"
    log = open(root / "jupyter-lab.log", "wb")
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", "--ServerApp.allow_root=True", "--IdentityProvider.token=",
           f"--ServerApp.root_dir={root}",
           f"--LabApp.workspaces_dir={home / 'workspaces'}", f"--LabApp.user_settings_dir={home / 'settings'}",
           "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    # (no news or update checks: the server would ask the internet for them, not the page)
    yield from _serve(cmd, root, env, port, log, "jupyter lab", timeout)


def _serve(cmd, cwd, env, port: int, log, name: str, timeout: float):
    """Run a server in its own process group, yield its URL once it listens, stop the group after.

    Listening is checked with a TCP connect, not a GET (a GET of Voila's / executes the
    notebook). Kernels run in their own session: on SIGTERM the server shuts them down; after
    a SIGKILL each one exits by itself on seeing its parent gone (JPY_PARENT_PID)."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        t0 = time.time()
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {log.name}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.time() - t0 > timeout:
                raise RuntimeError(f"{name} did not listen on {port} within {timeout}s; see {log.name}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()


@contextlib.contextmanager
def browser_page(url: str, viewport: dict, timeout_ms: int = 60_000):
    """Debian's Chromium through Playwright on `url`, every request off 127.0.0.1 blocked;
    yields (page, errors), errors being the page's uncaught errors as they come; closes after."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport=viewport)
            page.route("**/*", block_outside)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url, timeout=timeout_ms)
            yield page, errors
        finally:
            browser.close()


# -- the dashboard in a page -------------------------------------------------------------------
STATUS = "() => document.querySelector('.explorer-status').innerText"  # the status line's text
HIST_TITLE = """() => { for (const gd of document.querySelectorAll('.js-plotly-plot')) {
  const t = ((gd.layout || {}).title || {}).text || ''; if (t.startsWith('|w| of layer')) return t; } return null; }"""


def wait_for_dashboard(page, timeout_ms: int = 90_000) -> None:
    """Until the dashboard's figures (at least 8 plotly plots) are in the page."""
    page.wait_for_function("document.querySelectorAll('.explorer-dashboard .js-plotly-plot').length >= 8",
                           timeout=timeout_ms)


def record_titles(page) -> None:
    """Start a poller in the page that records every title the |w| histogram shows (every 30 ms),
    so that no frame slips between two looks from the test."""
    page.evaluate(f"""() => {{ window.__titles = [];
        setInterval(() => window.__titles.push(({HIST_TITLE})()), 30); }}""")


def steps_shown(page) -> list[int]:
    """The steps of the titles `record_titles` recorded, in order."""
    return [int(m.group(1).replace(",", "")) for t in page.evaluate("() => window.__titles")
            if (m := re.search(r"at step ([\d,]+)", t or ""))]
