"""The one exception family the toolkit raises for bad input or bad state.

Every error is a single line that says what was received, what was expected and what to
do; the CLI prints it and exits with status 2 instead of showing a traceback.
"""


class ExplorerError(ValueError):
    """Base class: a one-line, user-facing error."""


class ConfigError(ExplorerError):
    """A setting of a run is out of range or malformed."""


class DataError(ExplorerError):
    """A data set is missing, corrupt, or does not fit the model."""


def one_line(exc: BaseException) -> str:
    """An exception as one line: its type and the first line of its message (300 characters at most)."""
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[0][:300]}" if msg else type(exc).__name__


def shown(value, limit: int = 60) -> str:
    """repr(value) for a one-line message, cut to about `limit` characters: a 400-digit number
    is shown as its start, its end and its length, not the whole of it."""
    r = repr(value)
    if len(r) <= limit:
        return r
    return f"{r[:limit // 2]}...{r[-10:]} ({len(str(value)):,} characters)"
