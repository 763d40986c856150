"""Runner: drives a trainer (and an optional dense reference) in chunks from an asyncio task,
at a pace, so the kernel stays responsive (Pause, Stop and sliders act between chunks).

Paces (`PACES`):
  fast   as fast as the engine goes: chunks of ~CHUNK_SECONDS of work, yielding between them;
  quick  the run plays out in ~3 s, watch in ~8 s: the first min(1,000, steps) steps -- the
         burn-in, the cut and the first sparse steps, where the heavy tail forms -- take half
         of that time on a logarithmic clock (step s shown at T1 * log(1 + s) / log(1 + E)),
         the rest the other half at an even rate. Each chunk ends at the next frame time
         (FRAME_SECONDS apart) and the runner sleeps until then, so the views (one frame clock,
         views/base.py) draw every step range as it happens.
A chunk never goes past what the clock allows, and it shrinks when the machine is slower than
the pace (the pace is then as fast as the engine goes).
"""

from __future__ import annotations

import asyncio
import math
import time

PACES = {"watch": (4.0, 4.0), "quick": (1.5, 1.5), "fast": None}  # (seconds for the first 1,000 steps, the rest)
CHUNK_SECONDS = 0.05  # work per chunk in fast pace before yielding to the kernel's event loop
FRAME_SECONDS = 0.1  # a paced chunk ends at the next frame time
EARLY = 1000


class Pace:
    """The wall-clock time at which step s should be reached, and its inverse."""

    def __init__(self, total: int, name: str = "fast"):
        if name not in PACES:
            raise ValueError(f"pace {name!r}: expected one of {', '.join(PACES)}")
        self.name, self.total = name, max(int(total), 1)
        self.early = min(EARLY, self.total)
        self.t1, self.t2 = PACES[name] or (0.0, 0.0)
        if self.early >= self.total:  # a short run: all of it on the log clock
            self.t1, self.t2 = self.t1 + self.t2, 0.0

    @property
    def paced(self) -> bool:
        return PACES[self.name] is not None

    def time_at(self, step: int) -> float:
        if step <= self.early:
            return self.t1 * math.log1p(step) / math.log1p(self.early)
        return self.t1 + self.t2 * (step - self.early) / max(self.total - self.early, 1)

    def step_at(self, t: float) -> int:
        if t <= self.t1:
            return int(math.expm1(t / self.t1 * math.log1p(self.early))) if self.t1 > 0 else self.early
        if self.t2 <= 0:
            return self.total
        return min(self.total, self.early + int((t - self.t1) / self.t2 * (self.total - self.early)))


class Runner:
    """Runs `trainer` (and `reference`) to the end in chunks; `on_chunk()` after each one."""

    def __init__(self, on_chunk=None, on_end=None, on_error=None):
        self.on_chunk, self.on_end, self.on_error = on_chunk, on_end, on_error
        self.task = None
        self.paused = False
        self._chunk = 500  # steps per fast chunk, adapted to CHUNK_SECONDS

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def cancel(self) -> None:
        if self.running:
            self.task.cancel()
        self.task = None
        self.paused = False

    def start(self, trainer, reference=None, pace: str = "fast"):
        """Start (or resume) in an asyncio task; returns the task (None if one is going)."""
        if self.running:
            return None
        self.paused = False
        loop = asyncio.get_running_loop()
        self.task = loop.create_task(self._loop(trainer, reference, Pace(trainer.total_steps, pace)))
        return self.task

    def advance(self, trainer, reference=None, steps: int | None = None) -> bool:
        """One chunk of `steps` (None: ~CHUNK_SECONDS of work) of each; False when both are done."""
        t0 = time.perf_counter()
        n = self._chunk if steps is None else max(int(steps), 1)
        if not trainer.done:
            trainer.run(steps=n)
        if reference is not None and not reference.done:
            reference.run(steps=n)
        if steps is None:
            dt = time.perf_counter() - t0
            self._chunk = int(min(max(n * CHUNK_SECONDS / max(dt, 1e-4), 10), 50_000))
        if self.on_chunk is not None:
            self.on_chunk()
        return not (trainer.done and (reference is None or reference.done))

    async def _loop(self, trainer, reference, pace: Pace):
        start = time.perf_counter() - pace.time_at(trainer.state.step)  # resume where the clock would be
        try:
            while not self.paused:
                if pace.paced:
                    frame_end = time.perf_counter() + FRAME_SECONDS
                    target = pace.step_at(frame_end - start)
                    more = self.advance(trainer, reference, steps=max(target - trainer.state.step, 1))
                    wait = frame_end - time.perf_counter()
                    await asyncio.sleep(max(wait, 0.001))
                else:
                    more = self.advance(trainer, reference)
                    await asyncio.sleep(0.001)  # let the kernel handle widget messages
                if not more:
                    break
        except asyncio.CancelledError:
            raise
        except Exception as e:  # never a traceback in the page: the dashboard's status line says it
            if self.on_error is None:
                raise
            failed = e
        else:
            failed = None
        finally:
            if self.on_end is not None:
                self.on_end()
        if failed is not None:  # said after on_end, whose status line would cover it
            self.on_error(failed)
