"""Files out: pre-flight checks of output paths, safe text/JSON writes and appends, JSON
conversion (`jsonable`, `dumps`), and the removal of temporary files killed writers left (only
files explorer made: they live in folders it marks as its own, see TEMP_PREFIX).
Figures and run bundles are export.py's, on top of this.

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

`check_output_file` / `check_output_folder` / `check_appendable` say, before any work starts
and without touching anything, whether a path can be written. `append_bytes` appends all of
its bytes durably (fsync) or none: a failed append (a full disk) cuts the file back.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import shlex
import stat
import sys
from pathlib import Path

import numpy as np

from .errors import ExplorerError
from .owned import (  # noqa: F401 -- re-exported: temporary files are written through this module
    TEMP_NAME,
    TEMP_PREFIX,
    discard_temp,
    new_temp_file,
    own_folder,
    pid_alive,
    remove_own_folder,
    remove_stale_own_folders,
)

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


def check_appendable(path, what: str) -> Path:
    """`path` as a Path if it can be appended to in place and replaced (see `append_bytes`),
    else a one-line ExplorerError: as `check_output_file`, and an existing file must itself be
    writable (an append does not go through a temporary file)."""
    p = check_output_file(path, what)
    st = _stat(p, what)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise ExplorerError(f"{what} {_q(p)}: is {_kind(st)}, expected a regular file")
    if st is not None and not os.access(p, os.W_OK):
        raise ExplorerError(f"{what} {_q(p)}: the file is read-only (permission denied); make it writable "
                            f"or choose another folder")
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


def write_error(path, e: OSError) -> ExplorerError:
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


def place_file(path: Path, tmp: Path | None, data: bytes | None = None) -> None:
    """Put the bytes (already in `tmp`, or `data`) at `path` as its kind asks; `tmp` is always gone after."""
    try:
        how, dest = _destination(path)
        if how != "atomic" or (tmp is not None and Path(os.path.realpath(tmp.parent.parent)) != dest.parent):
            if data is None:
                data = tmp.read_bytes()
            if how == "fd":
                _write_descriptor(dest, data)
            elif how == "straight":
                _write_straight(dest, data)
            else:
                place_file(dest, None, data)
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        if tmp is None:
            tmp = new_temp_file(dest.parent, dest.name)
            _write_file(tmp, data)
        else:
            fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    finally:
        discard_temp(tmp)


def write_bytes_atomic(path, data: bytes) -> Path:
    """Write `data` at `path` (see the module docstring for what happens per kind of path).

    Missing folders are created. A failure is a one-line ExplorerError naming the path and
    the reason ("no space left on device"); an existing file is then left as it was.
    """
    path = _nonempty(path, "output", "file")
    try:
        place_file(path, None, bytes(data))
    except OSError as e:
        raise write_error(path, e) from e
    return path


def append_bytes(path, data: bytes) -> Path:
    """Append `data` to the file at `path` (created if missing, mode 0666 & ~umask) and fsync it.
    All or nothing: if a write fails part-way (no space left, a file-size limit), the file is cut
    back to its old length and a one-line ExplorerError says why."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as e:
        raise write_error(path, e) from e
    try:
        size = os.fstat(fd).st_size
        try:
            _write_all(fd, data)
            os.fsync(fd)
        except OSError as e:
            try:
                os.ftruncate(fd, size)
            except OSError:
                pass
            raise write_error(path, e) from e
    finally:
        os.close(fd)
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


def remove_stale_temp_files(folder) -> list[Path]:
    """Remove the temporary files in `folder` left by writers that are no longer running
    (killed mid-write); returns them. A temporary file of a live process is kept, and so is any
    file explorer did not make itself (owned.py)."""
    return remove_stale_own_folders(folder, TEMP_PREFIX)
