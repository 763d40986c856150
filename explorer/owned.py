"""Files and folders explorer owns, and the removal of what its killed processes left: only those.

explorer's temporary files live in folders of its own, each named PREFIX.PID.TOKEN and holding
OWNER_FILE, whose first line is OWNER_MARK and the process's id, and whose other lines name the
files explorer put there ('*': everything in it is explorer's, e.g. an export's browser sandbox).
Removal reads that record: a user's `.notes.12345.tmp` or `.report.v2.99999.tmp` only looks like
a temporary name, a folder of the right name without the record is someone else's, and a file
someone put into one of explorer's folders is left there (with the folder). Stale folders are
those whose process has ended (killed mid-write, mid-export); a live process's are kept.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
from pathlib import Path

TEMP_PREFIX = ".explorer-tmp"  # a temporary file's folder, beside the file it becomes
OWNER_FILE = "explorer-owned"
OWNER_MARK = "explorer: temporary files of process"
TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"\.(?P<pid>\d+)\.[0-9a-f]{8}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    except (OverflowError, ValueError):
        return False
    return True


def own_folder(parent, prefix: str, contents: str = "*") -> Path:
    """A new folder PREFIX.PID.TOKEN in `parent` (mode 0700), recorded as this process's, with the
    name of the one file it will hold (`contents`), or '*' for anything in it."""
    parent = Path(parent)
    for _ in range(100):
        d = parent / f"{prefix}.{os.getpid()}.{secrets.token_hex(4)}"
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            continue
        try:
            fd = os.open(d / OWNER_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
            try:
                data = memoryview(f"{OWNER_MARK} {os.getpid()}\n{contents}\n".encode())
                while data:
                    data = data[os.write(fd, data):]
            finally:
                os.close(fd)
        except OSError:  # (a full disk): what was just made goes, recorded or not
            with contextlib.suppress(OSError):
                os.unlink(d / OWNER_FILE)
            with contextlib.suppress(OSError):
                os.rmdir(d)
            raise
        return d
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(parent))


def _owned_names(d: Path) -> list[str] | None:
    """The names `own_folder` recorded in `d`, or None if `d` is not a folder of explorer's."""
    try:
        if not stat.S_ISDIR(os.lstat(d).st_mode):
            return None
        with open(d / OWNER_FILE, "rb") as f:
            lines = f.read(4096).decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    m = re.fullmatch(r".+\.(?P<pid>\d+)\.[0-9a-f]{8}", d.name)
    if not lines or not m or lines[0] != f"{OWNER_MARK} {m.group('pid')}":
        return None
    return [n for n in lines[1:] if n and "/" not in n and n not in (".", "..", OWNER_FILE)]


def remove_own_folder(d) -> list[Path]:
    """Remove a folder of `own_folder`: the file it records (or, for '*', all it holds), its record,
    itself. Anything else found in it is left, and the folder with it. Returns what was removed."""
    d = Path(d)
    names = _owned_names(d)
    if names is None:
        return []
    removed = []
    for n in names:
        with contextlib.suppress(OSError):
            if n == "*":
                for e in os.scandir(d):
                    if e.name != OWNER_FILE:
                        (shutil.rmtree(e.path) if e.is_dir(follow_symlinks=False) else os.unlink(e.path))
                        removed.append(Path(e.path))
            elif os.path.lexists(d / n):
                os.unlink(d / n)
                removed.append(d / n)
    with contextlib.suppress(OSError):
        os.unlink(d / OWNER_FILE)
        os.rmdir(d)
    return removed


def remove_stale_own_folders(parent, prefix: str) -> list[Path]:
    """Remove the folders PREFIX.PID.TOKEN of `own_folder` in `parent` whose process has ended;
    returns the files removed. Others' folders, and a live process's, are never touched."""
    removed = []
    pattern = re.compile(re.escape(prefix) + r"\.(?P<pid>\d+)\.[0-9a-f]{8}")
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for e in entries:
        m = pattern.fullmatch(e.name)
        if m and not pid_alive(int(m.group("pid"))) and _owned_names(Path(e.path)) is not None:
            removed += remove_own_folder(e.path)
    return removed


def new_temp_file(folder: Path, name: str, suffix: str = ".tmp") -> Path:
    """A new empty file NAME.tmp in a folder of our own, `.explorer-tmp.PID.TOKEN/` in `folder`
    (mode 0666 & ~umask, as open() gives): `own_folder` records its name there, so only this file
    is ever removed as a temporary one (`discard_temp`, `remove_stale_temp_files`)."""
    home = own_folder(folder, TEMP_PREFIX, f"{name[:40]}{suffix}")
    tmp = home / f"{name[:40]}{suffix}"
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666))
    except OSError:
        remove_own_folder(home)
        raise
    return tmp


def discard_temp(tmp: Path | None) -> None:
    """Remove a file of `new_temp_file` (if it is still there) and the folder made for it."""
    if tmp is not None:
        remove_own_folder(tmp.parent)
