"""JSON in, with one-line errors: a config, a grid, a value of settings.

    read_json(text, what)        the value, or a ConfigError naming `what`: bad syntax, a number of
                                 more than Python's 4,300 digits, nesting deeper than the parser's
                                 recursion ('[' x 100,000)
    read_json_file(path, what)   the same for a file; a folder, FIFO or device is refused unopened
    json_text(obj, what)         JSON text of settings (numpy values made plain); an object JSON
                                 cannot store, a cycle: a ConfigError

Written files (atomic writes, `dumps` of results) are files.py's.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import ConfigError, shown


def read_json(text: str, what: str):
    """json.loads, every failure one ConfigError naming `what`: bad syntax, a number of more than
    Python's 4,300 digits, nesting deeper than the parser's recursion ('[' x 100,000)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{what} is not valid JSON ({e.msg} at line {e.lineno}); fix the file") from None
    except RecursionError:
        raise ConfigError(f"{what} is nested too deeply to read (a JSON value inside thousands of lists or "
                          f"objects); fix the file") from None
    except ValueError as e:  # 'Exceeds the limit (4300 digits) for integer string conversion'
        raise ConfigError(f"{what} holds a value JSON cannot be read as ({str(e).splitlines()[0][:120]}); "
                          f"fix the file") from None


def read_json_file(path, what: str):
    """The JSON value in the file at `path`; one ConfigError ('{what} PATH is a folder', not UTF-8,
    not JSON, ...) for any problem. A FIFO or device is refused before it is opened (no hang)."""
    p = Path(path)
    if not p.is_file():
        why = ("is a folder" if p.is_dir() else "is not a regular file (a device, FIFO or socket)"
               if p.exists() else "does not exist")
        raise ConfigError(f"{what} {shown(str(p), 300)} {why}; pass a path to a JSON file")
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {shown(str(p), 300)} is not UTF-8 text; pass a JSON file") from None
    except OSError as e:
        raise ConfigError(f"{what} {shown(str(p), 300)} cannot be read ({e.strerror or e})") from None
    return read_json(text, f"{what} {shown(str(p), 300)}")


def _plain(obj):
    """json.dumps' fallback: numpy scalars and arrays as Python values; anything else refused."""
    if hasattr(obj, "tolist") and type(obj).__module__ == "numpy":
        return obj.tolist()
    raise ConfigError(f"extra holds a {type(obj).__name__}, which JSON cannot store; keep to numbers, text, "
                      f"lists and dicts")


def json_text(d, what: str, indent: int | None = None) -> str:
    """`d` as JSON text, or a one-line ConfigError (an object JSON cannot store, a cycle, NaN)."""
    try:
        return json.dumps(d, indent=indent, default=_plain)
    except (ValueError, RecursionError) as e:  # a cycle ('Circular reference detected'), nesting
        raise ConfigError(f"{what} cannot be written as JSON ({str(e).splitlines()[0][:120]}); keep extra to "
                          f"plain numbers, text, lists and dicts") from None
