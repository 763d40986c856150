"""Nothing hangs, nothing is left running: Ctrl-C, a second Ctrl-C, SIGTERM and SIGKILL of a
real `explorer sweep` / `explorer reproduce` (and a sweep on a Dask cluster), with real
processes and real signals.

A terminal's Ctrl-C sends SIGINT to the whole process group; each sweep here runs in its own
session, so the test can do the same (os.killpg) and then look for every process of that
session (/proc) -- the sweep, its workers and whatever multiprocessing started for them.
The timeouts are hang guards only; the times are measured and reported by pytest -rA.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from explorer.experiments.sweeps import RUNS_FILE

FAST = ["--dataset", "digits", "--hidden", "16", "--lr", "0.05", "--init-scale", "0.1", "--batch-size", "4",
        "--burn-in", "20", "--prune", "halving:2", "--no-progress", "--formats", "html"]
LONG = "30000000"  # steps: about two minutes a run, so a run never ends by itself during a test
SHORT = "60000"  # steps: a fraction of a second


def session(sid: int) -> dict[int, str]:
    """pid -> command line of every live (not zombie) process in session `sid`."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[3]) == sid and fields[0] != "Z":
                out[int(d.name)] = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
    return out


class Sweep:
    """`python -m explorer ARGV` in a new session, its output collected while it runs."""

    def __init__(self, argv, cwd=None):
        self.argv = list(argv)
        self.proc = subprocess.Popen([sys.executable, "-m", "explorer", *self.argv], start_new_session=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
        self.sid = self.proc.pid
        self.out, self.err = [], []
        self._readers = [threading.Thread(target=lambda s=s, buf=buf: buf.extend(s), daemon=True)
                         for s, buf in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for t in self._readers:
            t.start()

    def wait_for(self, what, cond, timeout=60.0):
        deadline = time.monotonic() + timeout
        while not cond():
            if self.proc.poll() is not None:
                pytest.fail(f"the sweep ended (status {self.proc.returncode}) before {what}: {''.join(self.err)}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"no {what} within {timeout} s: {''.join(self.err)}")
            time.sleep(0.02)

    def wait_for_workers(self, n):
        """Until the session holds the sweep, multiprocessing's helper and `n` more processes, and a
        moment longer, so that each worker is inside its run."""
        self.wait_for(f"{n} workers", lambda: len(session(self.sid)) >= n + 2)
        time.sleep(1.0)

    def signal(self, sig, group=True):
        (os.killpg if group else os.kill)(self.sid, sig)
        return time.monotonic()

    def finish(self, timeout=30.0) -> int:
        """The exit status (hang guard: `timeout`), after every reader has its output."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the sweep still runs {timeout} s after the signal: {''.join(self.err)}")
        for t in self._readers:
            t.join(5)
        return self.proc.returncode

    def leftovers(self, timeout=15.0) -> dict:
        """The session's processes still alive `timeout` seconds from now (none: returns at once)."""
        deadline = time.monotonic() + timeout
        while (left := session(self.sid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        return left

    def kill(self):
        for pid in session(self.sid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    @property
    def stderr(self) -> str:
        return "".join(self.err)


def lines(folder) -> list[dict]:
    p = Path(folder) / RUNS_FILE
    return [json.loads(x) for x in p.read_text().splitlines()] if p.exists() else []


def check_interrupted(sw: Sweep, status: int, out, total: int) -> None:
    """Exit 130, no traceback, one line saying how many runs are recorded and how to resume."""
    err = sw.stderr
    assert status == 130, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    done = len(lines(out))
    said = [x for x in err.splitlines() if "interrupted" in x]
    assert len(said) == 1, err
    assert f"{done} of {total} runs" in said[0] and "run the same command again" in said[0], said


@pytest.fixture(autouse=True)
def _no_strays():
    """Whatever a test leaves behind is killed, so one failure does not slow the rest down."""
    started: list[Sweep] = []
    orig = Sweep.__init__

    def track(self, *a, **k):
        orig(self, *a, **k)
        started.append(self)

    Sweep.__init__ = track
    try:
        yield
    finally:
        Sweep.__init__ = orig
        for sw in started:
            sw.kill()


# -- Ctrl-C -------------------------------------------------------------------------------------------
@pytest.mark.timeout(90)
@pytest.mark.parametrize("group", [True, False], ids=["process-group", "parent-only"])
def test_one_ctrl_c_stops_long_runs_cancels_the_queue_and_exits_130(tmp_path, group):
    """Two ~2-minute runs running, four queued: one Ctrl-C stops it all within ~3 s (2 s of grace)."""
    out = tmp_path / "sw"
    sw = Sweep(["sweep", *FAST, "--steps", LONG, "--seeds", "6", "--workers", "2", "--out", str(out)])
    sw.wait_for_workers(2)
    t0 = sw.signal(signal.SIGINT, group=group)
    status = sw.finish()
    took = time.monotonic() - t0
    check_interrupted(sw, status, out, total=6)
    assert lines(out) == []  # nothing finished: nothing recorded, nothing half-written
    assert sw.leftovers() == {}
    print(f"one Ctrl-C ({'group' if group else 'parent'}), long runs: exit 130 after {took:.2f} s")


@pytest.mark.timeout(90)
def test_one_ctrl_c_records_the_runs_that_end_within_the_grace(tmp_path):
    """Short runs: the two running at Ctrl-C end within the grace and are recorded; the queue is not run."""
    out = tmp_path / "sw"
    total = 16
    sw = Sweep(["sweep", *FAST, "--steps", SHORT, "--seeds", str(total), "--workers", "2", "--out", str(out)])
    sw.wait_for("two finished runs", lambda: len(lines(out)) >= 2)
    time.sleep(0.15)  # the workers that just finished have their next runs
    before = len(lines(out))
    t0 = sw.signal(signal.SIGINT)
    status = sw.finish()
    took = time.monotonic() - t0
    check_interrupted(sw, status, out, total=total)
    after = lines(out)
    # the runs running at Ctrl-C (two, unless a worker was between runs) end within the grace and
    # are kept; the queue is not run. (Before: the running runs were lost, and the queue waited for.)
    assert before + 1 <= len(after) < total, (before, len(after))
    assert len({r["run_id"] for r in after}) == len(after) and all(r["status"] == "ok" for r in after)
    assert sw.leftovers() == {}
    print(f"one Ctrl-C, short runs: exit 130 after {took:.2f} s, {before} -> {len(after)} of {total} recorded")


@pytest.mark.timeout(90)
@pytest.mark.parametrize("gap", [0.5, 2.1], ids=["in-the-grace", "as-it-exits"])
def test_a_second_ctrl_c_exits_at_once(tmp_path, gap):
    """The second Ctrl-C comes while running runs get their grace, or about when it ends and the
    sweep exits: either way exit 130 at once, no traceback, nothing left running."""
    out = tmp_path / "sw"
    sw = Sweep(["sweep", *FAST, "--steps", LONG, "--seeds", "4", "--workers", "2", "--out", str(out)])
    sw.wait_for_workers(2)
    t0 = sw.signal(signal.SIGINT)
    time.sleep(gap)
    try:
        t1 = sw.signal(signal.SIGINT)
    except ProcessLookupError:  # it was quicker
        t1 = time.monotonic()
    status = sw.finish()
    took = time.monotonic() - t1
    err = sw.stderr
    assert status == 130 and "Traceback" not in err and "Exception ignored" not in err, err
    assert sw.leftovers() == {}
    print(f"two Ctrl-C {gap} s apart: exit 130 {took:.2f} s after the second ({time.monotonic() - t0:.2f} s in all)")


# -- the parent dies ----------------------------------------------------------------------------------
@pytest.mark.timeout(90)
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_workers_die_with_their_parent(tmp_path, sig):
    out = tmp_path / "sw"
    sw = Sweep(["sweep", *FAST, "--steps", LONG, "--seeds", "4", "--workers", "2", "--out", str(out)])
    sw.wait_for_workers(2)
    assert len(session(sw.sid)) >= 3
    t0 = sw.signal(sig, group=False)
    sw.finish()
    left = sw.leftovers(timeout=15.0)
    took = time.monotonic() - t0
    assert left == {}, f"still running 15 s after {sig.name} of the sweep: {left}"
    print(f"{sig.name} of the parent: its processes gone after {took:.2f} s")


# -- reproduce and Dask -------------------------------------------------------------------------------
@pytest.mark.timeout(90)
def test_ctrl_c_during_reproduce(tmp_path):
    out = tmp_path / "rep"
    sw = Sweep(["reproduce", "--quick", "--dataset", "digits", "--workers", "2", "--out", str(out),
                "--no-progress", "--formats", "html"])
    sw.wait_for("a finished run", lambda: len(lines(out)) >= 1)
    t0 = sw.signal(signal.SIGINT)
    status = sw.finish()
    took = time.monotonic() - t0
    check_interrupted(sw, status, out, total=25)
    assert not (out / "results.json").exists()
    assert sw.leftovers() == {}
    print(f"one Ctrl-C during reproduce: exit 130 after {took:.2f} s")


@pytest.mark.timeout(120)
def test_ctrl_c_of_a_sweep_on_a_dask_cluster_closes_the_client(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    out = tmp_path / "sw"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
            distributed.Client(cl) as client:
        others = set(cl.scheduler.clients)  # ours and the scheduler's own
        sw = Sweep(["sweep", *FAST, "--steps", "5000000", "--seeds", "4", "--scheduler", cl.scheduler_address,
                    "--out", str(out)])
        sw.wait_for("runs on the cluster", lambda: sum(map(len, client.processing().values())) >= 2)
        time.sleep(0.5)
        t0 = sw.signal(signal.SIGINT)
        status = sw.finish()
        took = time.monotonic() - t0
        check_interrupted(sw, status, out, total=4)
        assert sw.leftovers() == {}
        # the client is gone from the scheduler, and so are its runs (the running ones end on their own)
        deadline = time.monotonic() + 20
        while set(cl.scheduler.clients) != others and time.monotonic() < deadline:
            time.sleep(0.1)
        assert set(cl.scheduler.clients) == others and not cl.scheduler.tasks, cl.scheduler.tasks
    print(f"one Ctrl-C of a Dask sweep: exit 130 after {took:.2f} s")
