"""The README's `explorer ...` commands work as written: each goes through the real parser,
and train / sweep / reproduce / compare run with --dry-run (which checks everything, data included, and
prints what would run). Commands without --dry-run (data list, data fetch, lab) are parsed
only: no server, no download. An optional part written `[--quick]` is tried with and without.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import shlex
from pathlib import Path

import pytest
from data_util import write_sklearn_files

from explorer.cli import build_parser, main

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_commands() -> list[list[str]]:
    """Every `explorer` command in README.md's code blocks: shell blocks (comments stripped, continued
    lines joined, `pip install ... &&` dropped) and commands in other blocks' comments ("# or:
    explorer lab [--voila]"); optional [parts] expanded. (A mention in the prose, such as "with
    `explorer sweep`", is not a command.)"""
    text = README.read_text()
    found: list[list[str]] = []
    for lang, body in re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M):
        if lang in ("bash", "sh", "shell", "console"):
            for line in body.replace("\\\n", " ").splitlines():
                tokens = shlex.split(line, comments=True)
                found += [seg for seg in _segments(tokens) if seg and seg[0] == "explorer"]
        else:  # a command mentioned in a comment of a code block: "# or: explorer lab [--voila]"
            found += [shlex.split(m) for m in re.findall(r"#.*?\b(explorer [a-z][^#\n]*)", body)]
    out = []
    for cmd in found:
        for variant in _variants(cmd):
            if variant not in out:
                out.append(variant)
    return out


def _segments(tokens):
    seg: list[str] = []
    for t in tokens:
        if t in ("&&", "||", ";"):
            yield seg
            seg = []
        else:
            seg.append(t)
    yield seg


def _variants(cmd: list[str]) -> list[list[str]]:
    """[--quick] -> with and without it (every combination of the optional parts)."""
    groups, i = [], 0
    while i < len(cmd):
        if cmd[i].startswith("["):
            j = i
            while not cmd[j].endswith("]"):
                j += 1
            groups.append((i, j))
            i = j + 1
        else:
            i += 1
    variants = []
    for keep in itertools.product((True, False), repeat=len(groups)):
        drop, strip = set(), set()
        for (i, j), k in zip(groups, keep):
            (strip if k else drop).update(range(i, j + 1))
        variants.append([t.strip("[]") if n in strip else t for n, t in enumerate(cmd) if n not in drop])
    return variants


COMMANDS = readme_commands()


def test_the_readme_has_the_commands_it_promises():
    kinds = {tuple(c[1:3]) if c[1] == "data" else (c[1],) for c in COMMANDS if len(c) > 1}
    assert {("train",), ("sweep",), ("reproduce",), ("data", "list"), ("data", "fetch"), ("lab",)} <= kinds, kinds
    assert ["explorer", "reproduce", "--out", "post/", "--quick"] in COMMANDS  # [--quick], taken
    assert ["explorer", "reproduce", "--out", "post/"] in COMMANDS  # and left out
    assert ["explorer", "lab", "--voila"] in COMMANDS and ["explorer", "lab"] in COMMANDS


@pytest.mark.parametrize("cmd", COMMANDS, ids=[" ".join(c[1:]) for c in COMMANDS])
def test_a_readme_command_works_as_written(cmd, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # where its relative --out / --json paths would go
    argv = cmd[1:]
    if argv[0] not in ("train", "sweep", "reproduce", "compare"):
        assert callable(build_parser().parse_args(argv).func)
        return
    if any(a.endswith((".csv", ".npz")) for a in argv):  # "--dataset wine.csv": the user's file, written here
        write_sklearn_files(tmp_path)
    before = sorted(tmp_path.iterdir())
    assert main([*argv, "--dry-run"]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert sorted(tmp_path.iterdir()) == before  # a dry run writes nothing
    if argv[0] == "train":
        cfg = json.loads(printed)
        given = dict(zip(argv[1::2], argv[2::2]))
        for flag, value in given.items():
            field = flag[2:].replace("-", "_")
            if field in cfg and field not in ("hidden", "prune_layers"):
                assert str(cfg[field]) == value or float(cfg[field]) == float(value), (flag, cfg[field])
        return
    n = int(printed.split(" runs")[0])
    if argv[0] == "sweep":  # the grid is the product of the comma lists, times --seeds
        opts = dict(zip(argv[1::2], argv[2::2]))
        expect = math.prod(len(v.split(",")) for k, v in opts.items() if k not in ("--out", "--seeds", "--workers"))
        assert n == expect * int(opts.get("--seeds", 1)), printed
        rules = opts.get("--prune", "").split(",")
        kind = rules[0].split(":")[0]
        for r in rules:  # fraction:0.5,0.9,0.97: every value of the list is a fraction: rule
            assert f"prune={r if ':' in r else f'{kind}:{r}'} " in printed + " ", printed
    elif argv[0] == "compare":  # six methods, --seeds each
        opts = dict(zip(argv[1::2], argv[2::2]))
        assert n == 6 * int(opts.get("--seeds", 3)) and printed.count("\n") == n + 1, printed
    else:
        assert n >= 20 and printed.count("\n") == n + 1, printed
