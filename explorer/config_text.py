"""RunConfig's settings as text: parsing and formatting for the command line, links and the
dashboard's text boxes (config.py declares the settings and checks their values; this module
reads and writes their text forms: `--hidden 256x128`, `?prune=halving:5`, a sweep's comma list).
"""

from __future__ import annotations

import contextlib

from .config import DEFAULTS, MAX_COUNT, MAX_DIGITS, SETTINGS, expectation
from .errors import ConfigError, shown


def flag(name: str) -> str:
    """The command-line option of a setting: burn_in -> --burn-in."""
    return "--" + name.replace("_", "-")


# -- text forms (command line, links, dashboard text boxes) ----------------------------------
def parse_text(name: str, text: str, cli: bool = False):
    """One setting's text form -> its value, with a one-line ConfigError naming the setting
    (as the option `--name 'text'` with cli=True). Numbers must look like numbers; hidden is
    256x128 (or 256,128); prune_layers 0,1 / 0+1 / all."""
    spec = SETTINGS[name]
    t = str(text).strip()
    said = f"{flag(name)} {shown(text)}" if cli else f"{name}={shown(text)}"
    if spec.optional and t.lower() in ("", "none"):
        return None
    if spec.kind in ("int", "float"):
        if len(t) > MAX_DIGITS:  # int() of 5,000 digits is an error of its own, float() of 400 is inf
            raise ConfigError(f"{said}: too long for a number; expected {expectation(name)}")
        try:
            return int(t) if spec.kind == "int" else float(t)
        except ValueError:
            raise ConfigError(f"{said}: expected {expectation(name)}") from None
    if spec.kind == "units":
        parts = t.lower().replace(",", "x").split("x")
        if all(len(p) <= MAX_DIGITS for p in parts):  # no int() of thousands of digits
            with contextlib.suppress(ValueError):
                return tuple(int(p) for p in parts)
        raise ConfigError(f"{said}: expected whole numbers such as 128 or 256x128 (up to {MAX_COUNT:,} a layer)")
    if spec.kind == "layers":
        return "all" if t.lower() == "all" else t.replace("+", ",")
    if spec.kind in ("rule", "choice", "text", "path"):
        if spec.kind in ("rule", "choice", "path") and not t:
            raise ConfigError(f"{said}: an empty value; expected {expectation(name)}")
        return t
    raise ConfigError(f"{name} cannot be given as text")


def parse_list(name: str, text: str, cli: bool = False) -> list:
    """A comma list of values (a sweep axis). In a rule list, an item that gives only the number
    takes the rule of the item before it: fraction:0.5,0.9,0.97 or halving:1,3,5."""
    parts = [p.strip() for p in str(text).split(",")]
    if not any(parts) or any(not p for p in parts):
        said = f"{flag(name)} {text!r}" if cli else f"{name}={text!r}"
        raise ConfigError(f"{said}: an empty value in the list; write values separated by commas, "
                          f"e.g. {flag(name)} {format_value(name, getattr(DEFAULTS, name))},...")
    if SETTINGS[name].kind == "rule":
        kind = None
        for i, p in enumerate(parts):
            if ":" in p:
                kind = p.split(":", 1)[0]
            elif kind is not None and _is_number(p):
                parts[i] = f"{kind}:{p}"
    return [parse_text(name, p, cli) for p in parts]


def format_value(name: str, value) -> str:
    """A value's text form, the inverse of parse_text: (256, 128) -> 256x128, (0, 1) -> 0,1."""
    kind = SETTINGS[name].kind
    if value is None:
        return "none"
    if kind == "units":
        return "x".join(str(int(v)) for v in value)
    if kind == "layers":
        return value if value == "all" else ",".join(str(int(v)) for v in value)
    if kind == "float":
        return f"{value:g}"
    return str(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
