"""Nothing runs from the folder a command is started in (issue 19): a socket.py or multiprocessing.py
there ran in every sweep and compare worker and in multiprocessing's resource tracker. The command
is started as the installed `explorer` script starts it (its own folder first on sys.path, not the
current one); each decoy module leaves a file when it is imported. (`explorer lab`: test_lab.py.)"""

import os
import subprocess
import sys
import textwrap

import pytest

from explorer.experiments.pool import safe_sys_path

DECOYS = ("socket", "multiprocessing", "selectors", "threading", "numpy", "json")


@pytest.fixture
def untrusted(tmp_path):
    """A folder whose modules shadow the standard library's and numpy's, each reporting its import."""
    cwd = tmp_path / "checkout"
    cwd.mkdir()
    for m in DECOYS:
        (cwd / f"{m}.py").write_text(f"import os\nopen(os.path.join({str(tmp_path)!r}, 'RAN-{m}-%d' % os.getpid()), "
                                     f"'w').close()\nraise SystemExit('the decoy {m}.py ran')\n")
    return cwd


def ran(tmp_path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("RAN-"))


def as_installed(tmp_path, argv, cwd) -> subprocess.CompletedProcess:
    """`explorer ARGV` as the console script runs it: a script in a folder of its own."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "explorer"
    script.write_text(textwrap.dedent("""\
        import sys
        from explorer.cli import main
        if __name__ == "__main__":
            sys.exit(main())
        """))
    return subprocess.run([sys.executable, str(script), *map(str, argv)], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("cmd", ["sweep", "compare"])
def test_workers_and_their_resource_tracker_import_nothing_from_the_current_folder(tmp_path, untrusted, cmd):
    out = tmp_path / "out"
    argv = (["sweep", "--dataset", "digits", "--steps", "20", "--burn-in", "5", "--hidden", "8", "--seeds", "2"]
            if cmd == "sweep" else ["compare", "--dataset", "digits", "--steps", "64", "--budget", "100", "--seeds",
                                    "1"])
    p = as_installed(tmp_path, [*argv, "--workers", "2", "--out", out, "--no-progress", "--formats", "html"], untrusted)
    assert ran(tmp_path) == [], p.stderr
    assert p.returncode == 0, p.stderr[-2000:]
    lines = (out / "runs.jsonl").read_text().splitlines()
    assert len(lines) == (2 if cmd == "sweep" else 6) and '"status": "failed"' not in "".join(lines)


def test_safe_sys_path_drops_the_current_folder_unless_pythonpath_names_it(tmp_path):
    here, other = str(tmp_path / "here"), str(tmp_path / "other")
    path = ["", here, "/usr/lib/python3", other, "."]
    assert safe_sys_path(path, cwd=here, env={}) == ["/usr/lib/python3", other]
    assert safe_sys_path(path, cwd=here, env={"PYTHONPATH": here}) == [here, "/usr/lib/python3", other]
    os.makedirs(here)
    os.symlink(here, tmp_path / "link")
    assert safe_sys_path([str(tmp_path / "link")], cwd=here, env={}) == []  # the same folder by another name
