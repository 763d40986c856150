"""Files out: atomic text/JSON writes, figures (html/png/svg/pdf) and run bundles.

Every file is written to a temporary name in the target folder and renamed into place
(os.replace is atomic on one file system), so an interrupted write never leaves a
half-written file that looks complete.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np


def write_bytes_atomic(path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def jsonable(obj):
    """Plain JSON types: numpy scalars/arrays to Python, NaN/inf to None, tuples to lists."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    return obj


def dumps(obj, indent: int | None = 2) -> str:
    return json.dumps(jsonable(obj), indent=indent, allow_nan=False)


def write_json_atomic(path, obj, indent: int | None = 2) -> Path:
    return write_text_atomic(path, dumps(obj, indent) + "\n")


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


def write_figures(figures: dict, folder, formats=("html", "png", "svg")) -> tuple[list[Path], str | None]:
    """Write plotly figures {stem: figure} into `folder` in each of `formats`.

    HTML is always written (with plotly.min.js beside it, so it opens offline). PNG/SVG/PDF go through kaleido in
    one browser session for all figures (a session costs ~2 s to start). Returns (paths
    written, a one-line note on what was skipped and how to fix it, or None). Every file is
    written under a temporary name and renamed, so none is ever half-written.
    """
    import plotly.graph_objects as go
    import plotly.io as pio

    bad = [f for f in formats if f != "html" and f not in STATIC_FORMATS]
    if bad:
        from .errors import ExplorerError

        raise ExplorerError(f"unknown figure format(s) {bad}; choose from html, {', '.join(STATIC_FORMATS)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
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
    tmps = [p.with_name(f".{p.stem}.{os.getpid()}.tmp.{fmt}") for _, p, fmt in jobs]
    try:
        pio.write_images(fig=[j[0] for j in jobs], file=[str(t) for t in tmps], format=[j[2] for j in jobs])
        for t, (_, p, _) in zip(tmps, jobs):
            os.replace(t, p)
            written.append(p)
    except Exception as e:  # kaleido/Chrome trouble: keep the HTML, say what went wrong
        return written, f"static images were not written ({type(e).__name__}: {str(e).splitlines()[0][:200]}); " \
                        f"the HTML files were"
    finally:
        for t in tmps:
            t.unlink(missing_ok=True)
    return written, None


# -- run bundles ------------------------------------------------------------------------------
def write_run_bundle(folder, config, results: dict | None, figures: dict | None = None,
                     formats=("html", "png", "svg", "pdf")) -> tuple[list[Path], str | None]:
    """Write a run as a folder: config.json (reloads with RunConfig.from_json), results.json
    and every figure via `write_figures`. Returns (paths written, note or None)."""
    folder = Path(folder)
    cfg = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    written = [write_json_atomic(folder / "config.json", cfg),
               write_json_atomic(folder / "results.json", results if results is not None else {})]
    note = None
    if figures:
        paths, note = write_figures(figures, folder, formats)
        written += paths
    return written, note
