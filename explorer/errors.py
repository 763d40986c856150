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
