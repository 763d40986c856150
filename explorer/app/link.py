"""A setting in a link: the query string of a page URL <-> RunConfig settings, and the
`explorer train ...` command of a config. Pure functions (no widgets), so they are tested
on their own.

A link is untrusted input. It carries training settings only -- the settings declared with
`link=True` in config.SETTINGS, never a path (data_dir), a config file or an export folder;
a data set only by a registry name, never a file's path or openml: (`linkable`) --
every value is read with config_text.parse_text and checked like any other input, and a bad or
unknown key is named in the returned problems while the rest of the link still applies.

    ?burn_in=100&prune=halving:3&hidden=64     (RunConfig field names; values in their text form)
"""

from __future__ import annotations

import os
import shlex
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ..config import DEFAULTS, SETTINGS, RunConfig
from ..config_text import flag, format_value, parse_text
from ..data import kind_of
from ..errors import ConfigError, ExplorerError, shown

MAX_QUERY = 2000  # characters; a longer query string is refused whole


def linkable(name: str, value) -> bool:
    """May a link carry this value? A data set only by a registry name, never a path or openml:."""
    try:
        return name != "dataset" or kind_of(value) in ("auto", "registry")
    except ExplorerError:
        return False


def initial_config(config, dataset="auto") -> RunConfig:
    """The dashboard's starting config: `config` (a RunConfig, or a dict of settings), else the
    defaults on `dataset`; anything else is a one-line ConfigError (shown in the status line)."""
    if config is None:
        return RunConfig(dataset=dataset)
    if isinstance(config, dict):
        return RunConfig.from_dict(config)
    if not isinstance(config, RunConfig):
        raise ConfigError(f"config={shown(config)}: expected a RunConfig (or a dict of settings), got "
                          f"{type(config).__name__}")
    return config


def settings_from_query(query: str, base: RunConfig = DEFAULTS) -> tuple[RunConfig, list[str]]:
    """(base with the link's good settings applied, one line per key that was refused)."""
    problems: list[str] = []
    if not query:
        return base, problems
    if not isinstance(query, str):
        return base, [f"query={shown(query)}: expected the page's query string (text such as "
                      f"'burn_in=0&hidden=64'); ignored"]
    if len(query) > MAX_QUERY:
        return base, [f"the link's settings are {len(query):,} characters long; ignored"]
    pairs = parse_qsl(query.lstrip("?"), keep_blank_values=True)
    given = {}
    for key, text in pairs:
        spec = SETTINGS.get(key)
        if spec is None or not spec.link:
            why = "is not a setting" if spec is None else "cannot be set from a link"
            problems.append(f"link: {key!r} {why}; ignored")
            continue
        given[key] = text
    cfg = base
    for key in SETTINGS:  # in declaration order: hidden is applied before prune_layers
        if key not in given:
            continue
        try:
            if not linkable(key, given[key]):
                raise ConfigError(f"dataset={given[key]!r}: a link names only a built-in data set, never a file or "
                                  f"OpenML")
            cfg = cfg.replace(**{key: parse_text(key, given[key])}).validate()
        except ExplorerError as e:
            problems.append(f"link: {e}; ignored")
    return cfg, problems


def query_from_config(cfg: RunConfig, base: RunConfig = DEFAULTS) -> str:
    """The query string of the link settings where `cfg` differs from `base`."""
    pairs = [(k, format_value(k, getattr(cfg, k))) for k, spec in SETTINGS.items()
             if spec.link and getattr(cfg, k) != getattr(base, k) and linkable(k, getattr(cfg, k))]
    return urlencode(pairs, safe=":,", quote_via=quote)


def train_command(cfg: RunConfig, base: RunConfig = DEFAULTS) -> str:
    """The `explorer train ...` command that trains `cfg` (options where it differs from `base`)."""
    parts = ["explorer", "train"]
    for k, spec in SETTINGS.items():
        if spec.cli and getattr(cfg, k) != getattr(base, k):
            parts += [flag(k), format_value(k, getattr(cfg, k))]
    return " ".join(shlex.quote(p) for p in parts)


def page_url(env=None) -> str | None:
    """The page's URL without its query string, in Voila (which tells the kernel); else None."""
    env = os.environ if env is None else env
    url = env.get("VOILA_REQUEST_URL")
    if not url:
        return None
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, p.path, "", ""))


def share_link(cfg: RunConfig, env=None) -> str | None:
    base = page_url(env)
    if base is None:
        return None
    q = query_from_config(cfg)
    return base + ("?" + q if q else "")
