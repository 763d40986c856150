"""Figures (html/png/svg/pdf) and run bundles (config.json, results.json and figures).

The file writing itself -- pre-flight checks, atomic writes, durable appends, JSON conversion,
stale temporary files -- is files.py's; its names are re-exported here, so
`from explorer.export import write_text_atomic` keeps working.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
import time
from pathlib import Path

from .errors import ExplorerError
from .files import (
    TEMP_NAME,
    append_bytes,
    check_appendable,
    check_output_file,
    check_output_folder,
    discard_temp,
    dumps,
    jsonable,
    new_temp_file,
    own_folder,
    pid_alive,
    place_file,
    remove_own_folder,
    remove_stale_own_folders,
    remove_stale_temp_files,
    write_bytes_atomic,
    write_error,
    write_json_atomic,
    write_text_atomic,
)

__all__ = ["NO_CHROME", "STATIC_FORMATS", "TEMP_NAME", "append_bytes", "check_appendable", "check_output_file",
           "check_output_folder", "dumps", "find_chrome", "jsonable", "remove_stale_temp_files", "write_bytes_atomic",
           "write_figures", "write_json_atomic", "write_run_bundle", "write_text_atomic"]


# -- figures ----------------------------------------------------------------------------------
STATIC_FORMATS = ("png", "svg", "pdf")
NO_CHROME = ("static images (PNG/SVG/PDF) need Chrome or Chromium for kaleido: run `plotly_get_chrome` "
             "or `apt-get install chromium`; the HTML files were written")


def find_chrome() -> str | None:
    """A Chrome/Chromium kaleido can drive: $BROWSER_PATH, one on PATH, or plotly's own copy."""
    import shutil

    env = os.environ.get("BROWSER_PATH")
    if env and Path(env).exists():
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        p = shutil.which(name)
        if p:
            return p
    try:  # the copy `plotly_get_chrome` / kaleido.get_chrome() installs
        from choreographer.cli.defaults import default_download_path

        for p in Path(default_download_path).rglob("chrome"):
            if p.is_file() and os.access(p, os.X_OK):
                return str(p)
    except Exception:
        pass
    return None


SANDBOX_PREFIX = "explorer-export"  # the browser's folder in the system's temporary folder: explorer-export.PID.TOKEN


def _browsers_in(box: Path) -> list[int]:
    """Processes whose command line names `box` (the browser kaleido started with its profile
    there): ours to end. Linux's /proc; elsewhere none are found."""
    needle, pids = os.fsencode(str(box)), []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return pids
    for d in entries:
        if d.isdigit() and int(d) != os.getpid():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    if needle in f.read():
                        pids.append(int(d))
            except OSError:
                continue
    return pids


def _end_browsers(box: Path) -> None:
    pids = _browsers_in(box)
    if pids:  # an interrupted export: choreographer's watchdog would log the browser's end as a warning
        import logging

        logging.getLogger("choreographer").setLevel(logging.CRITICAL)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5  # until they are gone: a browser still writing its profile would
    while pids and time.monotonic() < deadline:  # refill the folder while it is removed
        pids = [p for p in pids if _running(p)]
        time.sleep(0.02)


def _running(pid: int) -> bool:
    """Is `pid` a process that still runs (not ended, not a zombie)?"""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return False


@contextlib.contextmanager
def browser_sandbox():
    """A folder of explorer's own in the system's temporary folder, where kaleido's browser keeps
    its profile and kaleido the page it draws on (index.html): Python's tempfile and the browser's
    TMPDIR point into it while images are drawn. However the drawing ends -- done, an error, Ctrl-C,
    SIGTERM turned into an exception by the `explorer` command -- the browser is ended and the
    folder removed; after a SIGKILL the next export removes it (and ends its browser). Without it
    every interrupted export left a 2.2 MB Chromium profile and an index.html folder in /tmp."""
    base = Path(tempfile.gettempdir())
    _remove_stale_sandboxes(base)
    box = own_folder(base, SANDBOX_PREFIX)
    old_dir, old_env = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir, os.environ["TMPDIR"] = str(box), str(box)
    try:
        yield box
    finally:
        tempfile.tempdir = old_dir
        if old_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = old_env
        _end_browsers(box)
        remove_own_folder(box)


def _remove_stale_sandboxes(base: Path) -> None:
    """Remove the sandboxes of exports whose process has ended, ending any browser still in one."""
    for d in base.glob(SANDBOX_PREFIX + ".*.*"):
        pid = d.name.split(".")[1]
        if pid.isdigit() and not pid_alive(int(pid)):
            _end_browsers(d)
    remove_stale_own_folders(base, SANDBOX_PREFIX)


def _draw(**kwargs) -> None:
    """plotly.io.write_images(**kwargs) in a daemon thread, waited for in slices of 0.1 s: a Ctrl-C
    ends the wait at once (kaleido's own thread, started from this one, is a daemon too, so the
    interpreter does not wait for it at exit; the sandbox ends the browser)."""
    import plotly.io as pio

    out: dict = {}

    def draw():
        try:
            pio.write_images(**kwargs)
        except BaseException as e:  # handed to the waiting thread, raised there
            out["error"] = e

    t = threading.Thread(target=draw, name="explorer-export", daemon=True)
    t.start()
    while t.is_alive():
        t.join(0.1)
    if "error" in out:
        raise out["error"]


def write_figures(figures: dict, folder, formats=("html", "png", "svg")) -> tuple[list[Path], str | None]:
    """Write plotly figures {stem: figure} into `folder` in each of `formats`.

    HTML is always written (with plotly.min.js beside it, so it opens offline). PNG/SVG/PDF go
    through kaleido in one browser session for all figures (a session costs ~2 s to start).
    Returns (paths written, a one-line note on what was skipped and how to fix it, or None).
    A folder that cannot be written is an ExplorerError before anything is written; temporary
    files of earlier, killed exports in the folder are removed first.
    """
    import plotly.graph_objects as go

    bad = [f for f in formats if f != "html" and f not in STATIC_FORMATS]
    if bad:
        raise ExplorerError(f"unknown figure format(s) {bad}; choose from html, {', '.join(STATIC_FORMATS)}")
    folder = check_output_folder(folder, what="figure folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_error(folder, e) from e
    remove_stale_temp_files(folder)
    figs = {stem: go.Figure(fig) for stem, fig in figures.items()}
    written: list[Path] = []
    if "html" in formats and figs:  # plotly.js once per folder, beside the pages (opens offline)
        from plotly.offline import get_plotlyjs

        js = folder / "plotly.min.js"
        if not js.exists():
            written.append(write_text_atomic(js, get_plotlyjs()))
        for stem, fig in figs.items():
            written.append(write_text_atomic(folder / f"{stem}.html", fig.to_html(include_plotlyjs="directory")))
    static = [f for f in formats if f in STATIC_FORMATS]
    if not static or not figs:
        return written, None
    chrome = find_chrome()
    if chrome is None:
        return written, NO_CHROME
    os.environ.setdefault("BROWSER_PATH", chrome)
    jobs = [(fig, folder / f"{stem}.{fmt}", fmt) for stem, fig in figs.items() for fmt in static]
    tmps: list[Path | None] = [None] * len(jobs)
    todo = list(range(len(jobs)))
    try:
        with browser_sandbox():
            todo = _draw_all(jobs, tmps, todo, folder)
        if isinstance(todo, str):
            return written, todo
        for i, (_, p, _) in enumerate(jobs):
            if i in todo:
                continue
            try:
                place_file(p, tmps[i])
            except OSError as e:
                raise write_error(p, e) from e
            written.append(p)
    finally:
        for t in tmps:
            discard_temp(t)
    if todo:
        return written, f"{', '.join(jobs[i][1].name for i in todo)} not written (the browser failed to " \
                        f"draw {'it' if len(todo) == 1 else 'them'} twice); export again to retry"
    return written, None


def _draw_all(jobs, tmps, todo, folder):
    """Draw the images of `todo` into temporary files (tmps[i]); the indexes still not drawn, or a
    note (str) saying why none could be. kaleido does not raise for a figure it failed to draw: it
    removes the file and goes on (seen on a loaded machine: its page's script not yet loaded in a
    tab). Those are drawn once more, in a new browser session."""
    for _attempt in range(2):
        for i in todo:
            discard_temp(tmps[i])
            try:
                tmps[i] = new_temp_file(folder, jobs[i][1].stem, f".tmp.{jobs[i][2]}")
            except OSError as e:
                raise write_error(jobs[i][1], e) from e
        try:
            # each figure at its own layout size (write_images otherwise draws every one at 700x500)
            _draw(fig=[jobs[i][0] for i in todo], file=[str(tmps[i]) for i in todo],
                  format=[jobs[i][2] for i in todo], width=[jobs[i][0].layout.width or 700 for i in todo],
                  height=[jobs[i][0].layout.height or 500 for i in todo])
        except Exception as e:  # kaleido/Chrome trouble: keep the HTML, say what went wrong
            return f"static images were not written ({type(e).__name__}: " \
                   f"{(str(e).splitlines() or [''])[0][:200]}); the HTML files were"
        todo = [i for i in todo if not tmps[i].exists() or tmps[i].stat().st_size == 0]
        if not todo:
            break
    return todo


# -- run bundles ------------------------------------------------------------------------------
def write_run_bundle(folder, config, results: dict | None, figures: dict | None = None,
                     formats=("html", "png", "svg", "pdf")) -> tuple[list[Path], str | None]:
    """Write a run as a folder: config.json (reloads with RunConfig.from_json), results.json
    and every figure via `write_figures`. Returns (paths written, note or None). A folder that
    cannot be written is an ExplorerError before anything is written; temporary files of earlier,
    killed exports in it are removed."""
    folder = check_output_folder(folder, what="export folder")
    remove_stale_temp_files(folder)
    cfg = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    written = [write_json_atomic(folder / "config.json", cfg),
               write_json_atomic(folder / "results.json", results if results is not None else {})]
    note = None
    if figures:
        paths, note = write_figures(figures, folder, formats)
        written += paths
    return written, note
