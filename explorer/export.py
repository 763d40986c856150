"""Files out: pre-flight checks of output paths, safe text/JSON writes, figures
(html/png/svg/pdf) and run bundles.

What a write does depends on what is at the path:
- a regular file or a new path: written to a temporary file in the same folder, fsynced and
  renamed into place (os.replace is atomic on one file system), so an interrupted write never
  leaves a half-written file that looks complete; a symbolic link is followed and its target
  written this way (the link stays);
- a character device, FIFO or pipe (/dev/null, /dev/full, `mkfifo`, /dev/stdout, /dev/fd/N):
  written straight, never renamed over (a FIFO nobody reads is an error, not a hang).
New files get the mode `open()` would give them (0666 & ~umask). Every failure is one line
(ExplorerError) naming the path and the reason, with no temporary file left behind; temporary
files of processes that were killed mid-write are removed by the next export into that folder.

`check_output_file` / `check_output_folder` say, before any work starts and without touching
anything, whether a path can be written.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import secrets
import shlex
import stat
import sys
from pathlib import Path

import numpy as np

from .errors import ExplorerError

try:
    import fcntl
except ImportError:  # not on Windows
    fcntl = None


# -- pre-flight checks --------------------------------------------------------------------------
def check_output_file(path, what: str = "--json") -> Path:
    """`path` as a Path if a file can be written there, else a one-line ExplorerError.

    Fine: a regular file, a new file in an existing or creatable folder, a symbolic link to
    either, a character device or FIFO you may write, /dev/stdout. Nothing is created or
    changed (stat and access only); a missing folder is created by the write itself.
    """
    p = _nonempty(path, what, "file")
    if _own_fd(p) is not None:  # /dev/stdout, /dev/fd/N: already open
        return p
    st = _stat(p, what)
    if st is None:  # new file (or a dangling link's target): its folder must exist or be creatable
        _creatable(what, p, Path(os.path.realpath(p)).parent)
    elif stat.S_ISDIR(st.st_mode):
        raise ExplorerError(f"{what} {_q(p)}: is a folder, expected a file name")
    elif stat.S_ISREG(st.st_mode):  # replaced through a temporary file beside it
        folder = Path(os.path.realpath(p)).parent
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ExplorerError(f"{what} {_q(p)}: cannot create files in {_q(folder)} (permission denied); "
                                f"choose a folder you can write to")
    elif stat.S_ISSOCK(st.st_mode):
        raise ExplorerError(f"{what} {_q(p)}: is a socket, expected a file, device or FIFO")
    elif not os.access(p, os.W_OK):
        raise ExplorerError(f"{what} {_q(p)}: permission denied; choose a path you can write to")
    return p


def check_output_folder(path, what: str = "--out") -> Path:
    """`path` as a Path if files can be written in that folder, else a one-line ExplorerError.

    Fine: a writable folder (or a link to one), or a folder that does not exist yet whose
    nearest existing ancestor is a writable folder. Nothing is created or changed; the writers
    create the folder when they first write into it.
    """
    p = _nonempty(path, what, "folder")
    st = _stat(p, what)
    if st is None:
        _creatable(what, p, p)
    elif not stat.S_ISDIR(st.st_mode):
        raise ExplorerError(f"{what} {_q(p)}: is {_kind(st)}, not a folder; choose a folder")
    elif not os.access(p, os.W_OK | os.X_OK):
        raise ExplorerError(f"{what} {_q(p)}: cannot create files in it (permission denied); "
                            f"choose a folder you can write to")
    return p


def _q(p) -> str:
    return shlex.quote(str(p))


def _nonempty(path, what: str, noun: str) -> Path:
    if path is None or os.fspath(path) == "":
        raise ExplorerError(f"{what} '': expected a {noun} name")
    return Path(path)


def _kind(st) -> str:
    m = st.st_mode
    return ("a file" if stat.S_ISREG(m) else "a folder" if stat.S_ISDIR(m) else "a FIFO" if stat.S_ISFIFO(m)
            else "a socket" if stat.S_ISSOCK(m) else "a device")


def _stat(p: Path, what: str):
    """os.stat(p) (links followed), None if nothing is there; other failures as ExplorerError."""
    try:
        return os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        return None  # new, a dangling link (its target is created), or under a file (_creatable names it)
    except OSError as e:
        raise ExplorerError(f"{what} {_q(p)}: {_reason(e)}; choose another path") from None


def _creatable(what: str, p: Path, folder: Path) -> None:
    """Raise unless `folder` exists and is writable, or its nearest existing ancestor is."""
    a = Path(os.path.abspath(folder))
    while True:
        try:
            st = os.stat(a)
            break
        except (FileNotFoundError, NotADirectoryError):
            if os.path.islink(a):
                raise ExplorerError(f"{what} {_q(p)}: {_q(a)} is a broken symbolic link; "
                                    f"remove it or choose another path") from None
            if a.parent == a:
                raise ExplorerError(f"{what} {_q(p)}: no such file system root") from None
            a = a.parent
        except OSError as e:
            raise ExplorerError(f"{what} {_q(p)}: cannot reach {_q(a)} ({_reason(e)}); choose another path") from None
    if not stat.S_ISDIR(st.st_mode):
        raise ExplorerError(f"{what} {_q(p)}: {_q(a)} is {_kind(st)}, not a folder; choose another path")
    if not os.access(a, os.W_OK | os.X_OK):
        if a == Path(os.path.abspath(folder)):
            raise ExplorerError(f"{what} {_q(p)}: cannot create files in {_q(a)} (permission denied); "
                                f"choose a folder you can write to")
        raise ExplorerError(f"{what} {_q(p)}: cannot create folder {_q(folder)}: {_q(a)} is not writable; "
                            f"choose a folder you can write to")


# -- writes ---------------------------------------------------------------------------------------
_HINTS = {errno.ENOSPC: "free some space or write elsewhere", errno.EDQUOT: "free some space or write elsewhere",
          errno.EFBIG: "write elsewhere", errno.EACCES: "choose a path you can write to",
          errno.EPERM: "choose a path you can write to", errno.EROFS: "choose a path you can write to",
          errno.EISDIR: "give a file name, not a folder", errno.ENXIO: "start the reader first",
          errno.EPIPE: "the reader went away; keep it open until the write ends"}
_FD_DIR = re.compile(r"/proc/(\d+)(?:/task/\d+)?/fd")


def _reason(e: OSError) -> str:
    if e.errno == errno.ENXIO:
        return "nothing is reading it"
    return os.strerror(e.errno).lower() if e.errno else str(e)


def _write_error(path, e: OSError) -> ExplorerError:
    """One line: the path, why it failed (the OS's words), what to do."""
    if e.errno in (errno.ENOTDIR, errno.EEXIST):  # mkdir/open ran into a file where a folder should be
        a = Path(os.path.abspath(path)).parent
        while a.parent != a and not os.path.lexists(a):
            a = a.parent
        if os.path.lexists(a) and not os.path.isdir(a):
            return ExplorerError(f"cannot write {_q(path)}: {_q(a)} is not a folder; choose another path")
    return ExplorerError(f"cannot write {_q(path)}: {_reason(e)}; {_HINTS.get(e.errno, 'choose another path')}")


def _own_fd(path) -> int | None:
    """N if `path` names this process's open descriptor N (/dev/stdout, /dev/fd/N, /proc/self/fd/N)."""
    p = os.path.abspath(path)
    for _ in range(40):
        m = _FD_DIR.fullmatch(os.path.realpath(os.path.dirname(p)))
        if m:
            name = os.path.basename(p)
            return int(name) if int(m.group(1)) == os.getpid() and name.isdigit() else None
        if not os.path.islink(p):
            return None
        p = os.path.join(os.path.dirname(p), os.readlink(p))
    return None


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _new_temp(folder: Path, name: str, suffix: str = ".tmp") -> Path:
    """A new empty file `.NAME.PID.TOKEN.tmp` in `folder` (mode 0666 & ~umask, as open() gives)."""
    for _ in range(100):
        tmp = folder / f".{name[:40]}.{os.getpid()}.{secrets.token_hex(4)}{suffix}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666))
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder))


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_file(tmp: Path, data: bytes) -> None:
    fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0))
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_straight(path, data: bytes) -> None:
    """Into a device, FIFO or pipe as it is: no temporary file, no rename, no waiting for a reader."""
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        if fcntl is not None:
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        _write_all(fd, data)
    finally:
        os.close(fd)


def _write_descriptor(n: int, data: bytes) -> None:
    for stream in (sys.stdout, sys.stderr):  # what was printed before comes first
        try:
            if stream is not None and stream.fileno() == n:
                stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    _write_all(n, data)


def _destination(path: Path) -> tuple[str, object]:
    """How to write `path`: ("fd", N), ("straight", path) or ("atomic", real path of the file)."""
    n = _own_fd(path)
    if n is not None:
        return "fd", n
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "atomic", Path(os.path.realpath(path))  # new (a dangling link: its target)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a folder", str(path))
    if stat.S_ISREG(st.st_mode):
        return "atomic", Path(os.path.realpath(path))
    return "straight", path


def _place(path: Path, tmp: Path | None, data: bytes | None = None) -> None:
    """Put the bytes (already in `tmp`, or `data`) at `path` as its kind asks; `tmp` is always gone after."""
    try:
        how, dest = _destination(path)
        if how != "atomic" or (tmp is not None and Path(os.path.realpath(tmp.parent)) != dest.parent):
            if data is None:
                data = tmp.read_bytes()
            if how == "fd":
                _write_descriptor(dest, data)
            elif how == "straight":
                _write_straight(dest, data)
            else:
                _place(dest, None, data)
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        if tmp is None:
            tmp = _new_temp(dest.parent, dest.name)
            _write_file(tmp, data)
        else:
            fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, dest)
        tmp = None
        _fsync_dir(dest.parent)
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def write_bytes_atomic(path, data: bytes) -> Path:
    """Write `data` at `path` (see the module docstring for what happens per kind of path).

    Missing folders are created. A failure is a one-line ExplorerError naming the path and
    the reason ("no space left on device"); an existing file is then left as it was.
    """
    path = _nonempty(path, "output", "file")
    try:
        _place(path, None, bytes(data))
    except OSError as e:
        raise _write_error(path, e) from e
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


# -- temporary files left by killed processes ----------------------------------------------------
# `.NAME.PID.TOKEN.tmp` (_new_temp) or `.NAME.PID.TOKEN.tmp.png` (figures), TOKEN 8 hex digits; before
# that, `.NAME.PID.tmp.png`. The shortest NAME wins, so PID.TOKEN is read first: a TOKEN may be all
# digits, a PID never has 8 (pid_max <= 2**22).
TEMP_NAME = re.compile(r"\..+?\.(?:(?P<pid>\d+)\.[0-9a-f]{8}|(?P<old_pid>\d+))\.tmp(?:\.(?:png|svg|pdf|jpe?g|webp))?")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    except (OverflowError, ValueError):
        return False
    return True


def remove_stale_temp_files(folder) -> list[Path]:
    """Remove the temporary files in `folder` left by writers that are no longer running
    (killed mid-write); returns them. A temporary file of a live process is kept."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for e in entries:
        m = TEMP_NAME.fullmatch(e.name)
        try:
            if m and e.is_file(follow_symlinks=False) and not _alive(int(m.group("pid") or m.group("old_pid"))):
                os.unlink(e.path)
                removed.append(Path(e.path))
        except OSError:
            pass
    return removed


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

    HTML is always written (with plotly.min.js beside it, so it opens offline). PNG/SVG/PDF go
    through kaleido in one browser session for all figures (a session costs ~2 s to start).
    Returns (paths written, a one-line note on what was skipped and how to fix it, or None).
    A folder that cannot be written is an ExplorerError before anything is written; temporary
    files of earlier, killed exports in the folder are removed first.
    """
    import plotly.graph_objects as go
    import plotly.io as pio

    bad = [f for f in formats if f != "html" and f not in STATIC_FORMATS]
    if bad:
        raise ExplorerError(f"unknown figure format(s) {bad}; choose from html, {', '.join(STATIC_FORMATS)}")
    folder = check_output_folder(folder, what="figure folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _write_error(folder, e) from e
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
    tmps: list[Path] = []
    try:
        try:
            for _, p, fmt in jobs:
                tmps.append(_new_temp(folder, p.stem, f".tmp.{fmt}"))
        except OSError as e:
            raise _write_error(folder / f"{jobs[len(tmps)][1].name}", e) from e
        try:
            pio.write_images(fig=[j[0] for j in jobs], file=[str(t) for t in tmps], format=[j[2] for j in jobs])
        except Exception as e:  # kaleido/Chrome trouble: keep the HTML, say what went wrong
            return written, f"static images were not written ({type(e).__name__}: " \
                            f"{(str(e).splitlines() or [''])[0][:200]}); the HTML files were"
        for i, (_, p, _) in enumerate(jobs):
            try:
                _place(p, tmps[i])
            except OSError as e:
                raise _write_error(p, e) from e
            written.append(p)
    finally:
        for t in tmps:
            t.unlink(missing_ok=True)
    return written, None


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
