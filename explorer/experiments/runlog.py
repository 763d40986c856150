"""`DIR/runs.jsonl`, a sweep's record on disk: one JSON line per finished run, appended and
fsynced by the sweep's parent process only, as each run finishes.

`RunLog.check()` says before any run whether the folder and the file can be written (one line);
`read()` keeps the complete records and drops the rest -- a cut-off last line (a write
interrupted by a kill), a line that is not JSON, or a record without what a summary needs
(its config, its status; accuracy, weights and seconds for a finished run) -- so those runs
are done again; `rewrite()` replaces the file atomically; `append()` writes a whole line or
nothing (a failed append, e.g. on a full disk, cuts the file back) and says why in one line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import ExplorerError
from ..files import append_bytes, check_appendable, check_output_folder, dumps, write_error, write_text_atomic

RUNS_FILE = "runs.jsonl"
STATUSES = ("ok", "diverged", "failed")


def complete(rec) -> bool:
    """Does `rec` hold what a sweep's summary and `explorer reproduce` read from a record?"""
    if not (isinstance(rec, dict) and isinstance(rec.get("run_id"), str) and rec.get("status") in STATUSES
            and isinstance(rec.get("config"), dict)):
        return False
    if rec["status"] == "failed":
        return True
    seconds = rec.get("seconds")
    acc = rec.get("test_accuracy")
    return (isinstance(seconds, dict) and all(isinstance(seconds.get(k), (int, float)) for k in
                                              ("burn_in", "prune", "train"))
            and (acc is None or isinstance(acc, (int, float))) and isinstance(rec.get("weights_alive"), list))


class RunLog:
    """`DIR/runs.jsonl`: check, read (dropping incomplete lines), rewrite atomically, append."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.path = self.folder / RUNS_FILE
        self.dropped: list[str] = []
        self._lock = None

    def __repr__(self):
        return f"RunLog({str(self.path)!r})"

    def check(self, what: str = "out") -> None:
        """A one-line ExplorerError unless the folder and runs.jsonl can be written; changes nothing."""
        check_output_folder(self.folder, what)
        check_appendable(self.path, what)

    def lock(self) -> None:
        """Refuse a second sweep writing the same folder at the same time (POSIX flock)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder / ".runs.lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        except OSError as e:
            raise write_error(self.folder / ".runs.lock", e) from None
        try:
            import fcntl
        except ImportError:  # Windows: no lock
            os.close(fd)
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ExplorerError(f"another sweep is writing {str(self.folder)!r}; wait for it or use another --out") \
                from None
        self._lock = fd

    def unlock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def read(self) -> dict:
        """run_id -> record, in file order; what was dropped is listed in `self.dropped`."""
        self.dropped = []
        if not self.path.exists():
            return {}
        try:
            data = self.path.read_bytes()
        except OSError as e:
            raise ExplorerError(f"cannot read {self.path}: {os.strerror(e.errno).lower() if e.errno else e}; "
                                f"make it readable or choose another folder") from None
        lines = data.split(b"\n")
        tail = lines.pop()  # b"" when the file ends with a newline, as every complete write does
        if tail.strip():
            self.dropped.append(f"cut-off last line ({len(tail)} bytes, no newline)")
        out: dict = {}
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except (ValueError, RecursionError):  # not JSON, a 5,000-digit number, '[' x 100,000
                rec = None
            if not complete(rec):
                self.dropped.append(f"line {n}, which is not a complete run record")
                continue
            old = out.get(rec["run_id"])
            if old is None or old.get("status") == "failed":  # one line per run; a result beats a failure
                out[rec["run_id"]] = rec
        return out

    def rewrite(self, records) -> None:
        write_text_atomic(self.path, "".join(dumps(r, indent=None) + "\n" for r in records))

    def append(self, record: dict) -> None:
        """One whole line, on disk before this returns, or a one-line ExplorerError and no line."""
        append_bytes(self.path, (dumps(record, indent=None) + "\n").encode("utf-8"))
