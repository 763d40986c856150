"""Where a sweep's runs run, and how they stop: `WorkerPool` (this machine's processes) or
`ExecutorTasks` (any concurrent.futures executor, e.g. Dask's), behind one small interface
driven by the thread that runs the sweep, and `Interrupts`, the Ctrl-C a sweep listens for.

Why not concurrent.futures.ProcessPoolExecutor for the local pool: it hands runs to its
workers ahead of time (a Ctrl-C then waits for those too), its exit handler joins threads and
hung for good on a second Ctrl-C, and its workers outlived a parent killed with SIGKILL or
SIGTERM (each waits forever on a queue the dead parent held open; the forkserver and the
resource tracker stay for them). Here:

  * a worker gets its next run only when it is idle; the queue stays in the parent, so
    cancelling it is dropping a list;
  * no threads: `wait()` hands out runs and collects results in the calling thread;
  * workers ignore SIGINT (a terminal's Ctrl-C reaches the whole process group; the parent
    decides what stops), from their first instruction on: they start with SIGINT ignored;
  * a worker dies with its parent, however the parent dies: workers are started by 'spawn'
    from the thread that drives the pool, and each asks Linux for SIGKILL when that parent
    goes (PR_SET_PDEATHSIG, through ctypes); elsewhere, or under another start method (a
    forkserver is a worker's parent then), a watchdog thread in the worker waits on the
    parent's pid (pidfd, else polling) and ends the worker;
  * `kill()` ends every worker at once (SIGKILL) and reaps it; `close()` lets idle ones exit.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import os
import signal
import sys
import threading
import time

from ..errors import one_line
from ..files import pid_alive

GRACE = 2.0  # seconds a running run gets to finish after the first Ctrl-C


# -- the worker side ------------------------------------------------------------------------------
def _pdeathsig(sig: int) -> bool:
    """Ask Linux to send `sig` to this process when its parent ends; False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(1, int(sig), 0, 0, 0) == 0  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    try:
        fd = os.pidfd_open(parent)  # readable when the process ends (Linux 5.3+)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        import select

        select.select([fd], [], [])
    else:
        while pid_alive(parent):
            time.sleep(0.5)
    os._exit(1)


def die_with(parent: int) -> None:
    """End this process when process `parent` ends, however it ends."""
    if os.getppid() == parent and _pdeathsig(signal.SIGKILL):
        if os.getppid() != parent:  # it ended before the request was made
            os._exit(1)
        return
    threading.Thread(target=_watch, args=(parent,), daemon=True, name="explorer-parent-watch").start()


def _serve(conn, parent: int, initializer, initargs) -> None:
    """A worker: run what the parent sends, one task at a time, until told to stop or orphaned."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with(parent)
    if initializer is not None:
        initializer(*initargs)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        fn, args = task
        try:
            result = (True, fn(*args))
        except BaseException as e:  # reported to the parent; the worker stays
            result = (False, one_line(e))
        try:
            conn.send(result)
        except (EOFError, OSError):
            return
        except Exception as e:  # the result could not be pickled
            conn.send((False, f"the result could not be sent back ({one_line(e)})"))


# -- the parent side ------------------------------------------------------------------------------
class WorkerPool:
    """Up to `workers` processes of `context` ('spawn' by default), each running one task at a
    time; `initializer(*initargs)` runs in each worker first. Use from one thread."""

    def __init__(self, workers: int, context: str | None = None, initializer=None, initargs=()):
        import multiprocessing as mp

        self.size = workers
        self.ctx = mp.get_context(context or "spawn")
        self._init = (initializer, tuple(initargs))
        self._queue: collections.deque = collections.deque()  # (key, fn, args)
        self._idle: list = []  # (process, connection)
        self._busy: dict = {}  # (process, connection) -> key

    def __repr__(self):
        return f"WorkerPool({self.size}, running={len(self._busy)}, queued={len(self._queue)})"

    def submit(self, key, fn, *args) -> None:
        self._queue.append((key, fn, args))

    def busy(self) -> bool:
        return bool(self._queue or self._busy)

    def cancel_pending(self) -> list:
        keys = [k for k, _, _ in self._queue]
        self._queue.clear()
        return keys

    def _start(self):
        parent_end, child_end = self.ctx.Pipe()
        p = self.ctx.Process(target=_serve, args=(child_end, os.getpid(), *self._init), daemon=True,
                             name="explorer-worker")
        # An ignored signal stays ignored across exec, and Python keeps it so: the new worker never
        # sees a Ctrl-C, not even while it imports. (The parent ignores one for the few ms of start().)
        main = threading.current_thread() is threading.main_thread()
        old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            p.start()
        finally:
            if main:
                signal.signal(signal.SIGINT, old)
            child_end.close()
        return p, parent_end

    def _dispatch(self) -> None:
        while self._queue and (self._idle or len(self._busy) < self.size):
            w = self._idle.pop() if self._idle else self._start()
            key, fn, args = self._queue.popleft()
            try:
                w[1].send((fn, args))
            except (OSError, EOFError):  # it died idle: forget it, the task goes first again
                self._queue.appendleft((key, fn, args))
                self._drop(w)
                continue
            self._busy[w] = key

    def _drop(self, w) -> None:
        p, conn = w
        conn.close()
        if p.is_alive():
            p.kill()
        p.join(5)

    def wait(self, timeout: float) -> list:
        """Start queued tasks on idle workers; then up to `timeout` seconds for results:
        [(key, True, value) or (key, False, one-line error)]."""
        from multiprocessing.connection import wait

        self._dispatch()
        if not self._busy:
            return []
        ready = set(wait([w[1] for w in self._busy] + [w[0].sentinel for w in self._busy], timeout))
        out = []
        for w in list(self._busy):
            p, conn = w
            if conn not in ready and p.sentinel not in ready:
                continue
            key = self._busy.pop(w)
            try:
                ok, value = conn.recv()
            except (EOFError, OSError):  # the worker died mid-run (killed, out of memory)
                p.join(5)
                code = p.exitcode
                how = (f"killed by {signal.Signals(-code).name}" if code is not None and code < 0
                       else f"exit status {code}")
                out.append((key, False, f"WorkerDied: the worker process ended ({how}) during this run"))
                self._drop(w)
                continue
            out.append((key, ok, value))
            self._idle.append(w)
        return out

    def kill(self) -> None:
        """Every worker ends now (SIGKILL) and is reaped; queued tasks are dropped."""
        self._queue.clear()
        workers = [*self._busy, *self._idle]
        self._busy, self._idle = {}, []
        for p, _ in workers:
            if p.is_alive():
                p.kill()
        for w in workers:
            self._drop(w)

    def close(self) -> None:
        """Idle workers exit; running ones (there are none after a finished sweep) are killed."""
        for _, conn in self._idle:
            try:
                conn.send(None)
            except (OSError, EOFError):
                pass
        for p, _ in self._idle:
            p.join(5)
        self.kill()


class ExecutorTasks:
    """WorkerPool's interface on any concurrent.futures executor, e.g. a ProcessPoolExecutor or
    `dask.distributed.Client(...).get_executor()`. `kill()` cancels what has not finished; the
    executor and whatever it runs already are its owner's."""

    def __init__(self, executor):
        self.executor = executor
        self._futures: dict = {}  # future -> key

    def __repr__(self):
        return f"ExecutorTasks({self.executor!r}, unfinished={len(self._futures)})"

    def submit(self, key, fn, *args) -> None:
        self._futures[self.executor.submit(fn, *args)] = key

    def busy(self) -> bool:
        return bool(self._futures)

    def cancel_pending(self) -> list:
        """Cancel what the executor lets us cancel (Dask: every unfinished run)."""
        return [self._futures.pop(f) for f in list(self._futures) if f.cancel()]

    def wait(self, timeout: float) -> list:
        done, _ = cf.wait(list(self._futures), timeout, return_when=cf.FIRST_COMPLETED)
        out = []
        for f in done:
            key = self._futures.pop(f)
            if f.cancelled():
                continue
            try:
                out.append((key, True, f.result()))
            except Exception as e:  # the worker died or could not be reached
                out.append((key, False, one_line(e)))
        return out

    def kill(self) -> None:
        for f in self._futures:
            f.cancel()
        self._futures.clear()

    def close(self) -> None:
        self.kill()


def _listening() -> bool:
    """False when SIGINT is ignored (e.g. a job a script started with `&`): leave it so."""
    return signal.getsignal(signal.SIGINT) is not signal.SIG_IGN


def _exit_now(signum=None, frame=None):
    os._exit(128 + signal.SIGINT)


class ProgramSigint:
    """The SIGINT handler of the `explorer` program (not of a library call): a Ctrl-C raises
    KeyboardInterrupt, and from then on the next one ends the process at once (exit 130, no
    traceback), wherever it lands -- also while the program is printing its last line and exiting."""

    def __call__(self, signum, frame):
        signal.signal(signal.SIGINT, _exit_now)
        raise KeyboardInterrupt

    @staticmethod
    def install() -> None:
        if threading.current_thread() is threading.main_thread() and _listening():
            signal.signal(signal.SIGINT, ProgramSigint())

    @staticmethod
    def ending() -> None:
        """The program has said its last line after a Ctrl-C and exits: one more is ignored (Python
        would reset a handler at exit, and the process would then die of it instead of exiting 130)."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)


class Interrupts:
    """While active, in the main thread: the first SIGINT (Ctrl-C) is only counted (`count`),
    so the sweep can stop in order; a second raises KeyboardInterrupt at once -- unless inside
    `critical()` (a line being appended to runs.jsonl), which it lets finish first. After an
    interrupted sweep in the `explorer` program (ProgramSigint), the next Ctrl-C exits at once."""

    def __init__(self):
        self.count = 0
        self.stopping = False  # set while the sweep ends its workers: a Ctrl-C then only counts
        self._old = None
        self._critical = False
        self._pending = False

    def __enter__(self):
        if threading.current_thread() is threading.main_thread() and _listening():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            after = _exit_now if self.count and isinstance(self._old, ProgramSigint) else self._old
            signal.signal(signal.SIGINT, after)
            self._old = None

    def _handle(self, signum, frame):
        self.count += 1
        if self.count > 1 and not self.stopping:
            if self._critical:
                self._pending = True
            else:
                raise KeyboardInterrupt

    @contextlib.contextmanager
    def critical(self):
        self._critical = True
        try:
            yield
        finally:
            self._critical = False
            if self._pending:
                self._pending = False
                raise KeyboardInterrupt
