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

from ..errors import ExplorerError, one_line
from ..files import pid_alive

GRACE = 2.0  # seconds a running run gets to finish after the first Ctrl-C
SAFE_PATH = ["-P"] if sys.version_info >= (3, 11) else []  # a child Python with no script folder first on sys.path


# -- what a new process may import ------------------------------------------------------------------
def safe_sys_path(path: list, cwd: str | None = None, env=None) -> list:
    """`path` (a sys.path) without the current folder: '' and any entry that is the folder
    `cwd` (default: the current one), unless PYTHONPATH names it (then the user asked for it).
    What a worker is given: modules that sit in the folder a command was started in (a socket.py,
    a multiprocessing.py) must not run in it."""
    env = os.environ if env is None else env
    cwd = os.path.realpath(os.getcwd() if cwd is None else cwd)
    asked = {os.path.realpath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p}
    return [p for p in path if p not in ("", ".") and (os.path.realpath(p) != cwd or os.path.realpath(p) in asked)]


@contextlib.contextmanager
def safe_start():
    """While a child Python starts (multiprocessing's spawn, its resource tracker): PYTHONSAFEPATH
    (3.11+) keeps the folder of its `-c` off its sys.path, and the sys.path it is handed (spawn's
    preparation data) is `safe_sys_path`'s. Without both, every worker ran a socket.py or
    multiprocessing.py from the folder the command was started in, and so did the resource
    tracker. Both are put back as they were when the child has started."""
    old_env, old_path = os.environ.get("PYTHONSAFEPATH"), list(sys.path)
    os.environ["PYTHONSAFEPATH"] = "1"
    sys.path[:] = safe_sys_path(sys.path)
    try:
        yield
    finally:
        sys.path[:] = old_path
        if old_env is None:
            os.environ.pop("PYTHONSAFEPATH", None)
        else:
            os.environ["PYTHONSAFEPATH"] = old_env


# -- the worker side ------------------------------------------------------------------------------
def pdeathsig(sig: int) -> bool:
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
    if os.getppid() == parent and pdeathsig(signal.SIGKILL):
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
            with safe_start():
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


def _terminated(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    raise SystemExit(128 + signal.SIGTERM)


class ProgramSigint:
    """The SIGINT handler of the `explorer` program (not of a library call): a Ctrl-C raises
    KeyboardInterrupt, and from then on the next one ends the process at once (exit 130, no
    traceback), wherever it lands -- also while the program is printing its last line and exiting."""

    def __call__(self, signum, frame):
        signal.signal(signal.SIGINT, _exit_now)
        raise KeyboardInterrupt

    @staticmethod
    def install() -> None:
        """The program's SIGINT (see the class doc) and SIGTERM: a SIGTERM ends the program as an
        exception does (SystemExit, status 143), so what it was doing ends in order -- a sweep's
        workers, an export's browser and its temporary folder -- instead of being cut off."""
        if threading.current_thread() is threading.main_thread():
            if _listening():
                signal.signal(signal.SIGINT, ProgramSigint())
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                signal.signal(signal.SIGTERM, _terminated)

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


# -- a Dask cluster's executor ---------------------------------------------------------------------
def dask_executor(address: str):
    """(an executor on the Dask scheduler at `address`, a function that closes the client)."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise ExplorerError("--scheduler needs dask.distributed: pip install 'explorer[dask]'") from None
    _probe(address)
    try:
        client = Client(address, timeout=f"{CONNECT_SECONDS:g}s")
    except Exception as e:
        raise ExplorerError(f"--scheduler {address!r}: could not connect ({one_line(e)})") from None
    return client.get_executor(pure=False), client.close


CONNECT_SECONDS = 10.0  # to connect to a Dask scheduler, and for its first bytes


def _probe(address: str) -> None:
    """For a tcp:// (or bare host:port) scheduler: connect, and wait CONNECT_SECONDS for the first
    bytes -- a Dask scheduler sends its handshake at once. Written by hand because Client(timeout=)
    bounds only the connection: a listener that accepts and never answers (not a scheduler, a stuck
    one) held Client() for 180 s and more, silently. A closed port fails here too, in one line."""
    import socket

    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if scheme != "tcp":
        return  # tls://, ws://, inproc://: left to Dask
    host, _, port = rest.rstrip("/").rpartition(":")
    if not port.isdigit() or not host:
        raise ExplorerError(f"--scheduler {address!r}: expected tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS) as conn:
            conn.settimeout(CONNECT_SECONDS)
            if not conn.recv(1):
                raise ExplorerError(f"--scheduler {address!r}: the connection was closed at once; is a Dask "
                                    f"scheduler listening there?")
    except TimeoutError:
        raise ExplorerError(f"--scheduler {address!r}: no answer in {CONNECT_SECONDS:g} s (a Dask scheduler "
                            f"answers at once); check the address and that the scheduler runs") from None
    except OSError as e:
        raise ExplorerError(f"--scheduler {address!r}: could not connect ({e.strerror or one_line(e)}); check "
                            f"the address and that the scheduler runs") from None
