"""Bounded histories: `Series` keeps at most `limit` points of a run however long it is.

When more than `limit` points pile up, every other point is dropped -- the first and the last
are always kept, so a curve still starts at the run's start and reaches its newest step -- and
`stride` doubles: a caller that samples every `stride`-th opportunity keeps an even, decimated
picture of the whole run, early steps included. Used by the Recorder and by the survivors
view's burn-in snapshots (one definition instead of one per history).
"""

from __future__ import annotations


class Series:
    """Parallel columns (e.g. step, loss) of at most `limit` rows, decimated by halving."""

    def __init__(self, limit: int = 1000, columns: int = 2):
        if limit < 2:
            raise ValueError(f"Series(limit={limit}): expected at least 2")
        self.limit, self.n_columns = limit, columns
        self.clear()

    def clear(self) -> None:
        self.columns: list[list] = [[] for _ in range(self.n_columns)]
        self.stride = 1  # points are worth keeping every `stride`-th time (doubles at each halving)
        self._calls = 0

    def due(self) -> bool:
        """Counts one sampling opportunity; True on every `stride`-th."""
        self._calls += 1
        return self._calls % self.stride == 0

    def append(self, *values) -> None:
        for col, v in zip(self.columns, values, strict=True):
            col.append(v)
        n = len(self.columns[0])
        if n > self.limit:
            keep = sorted({*range(0, n, 2), n - 1})
            self.columns = [[col[i] for i in keep] for col in self.columns]
            self.stride *= 2

    def __len__(self) -> int:
        return len(self.columns[0])

    def __getitem__(self, i: int) -> list:
        return self.columns[i]

    def __repr__(self):
        return f"Series({len(self)} of {self.limit} points, stride {self.stride})"
