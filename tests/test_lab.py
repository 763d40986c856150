"""`explorer lab` (explorer/lab.py) never runs code from the folder it is started in or from the
notebook's folder: the notebook is the given one, the packaged one or one it writes itself; the
server starts in an empty folder of explorer's own, with -P and PYTHONSAFEPATH, and its kernels
with explorer's kernel spec (--ignore-cwd). Live tests (slow) start a real Voila through the
`explorer lab` command, render a notebook, and stop it with SIGTERM, a terminal's Ctrl-C or SIGKILL.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

import explorer
from explorer.errors import ExplorerError
from explorer.lab import (
    CELL,
    command,
    empty_folder,
    find_notebook,
    packaged_notebook,
    server_env,
    write_dashboard_notebook,
)

REPO_NOTEBOOK = Path(explorer.__file__).resolve().parents[1] / "notebooks" / "01-explore.ipynb"


@pytest.fixture
def untrusted(tmp_path, monkeypatch):
    """The current folder is a checkout nobody vetted: its notebooks and modules are decoys."""
    cwd = tmp_path / "checkout"
    (cwd / "notebooks").mkdir(parents=True)
    decoy = nbformat.v4.new_notebook()
    decoy.cells = [nbformat.v4.new_code_cell("import os; os.system('touch PWNED')")]
    for path in (cwd / "notebooks" / "01-explore.ipynb", cwd / "explorer-dashboard.ipynb"):
        nbformat.write(decoy, str(path))
    for module in ("jupyterlab.py", "voila.py"):
        (cwd / module).write_text("open('PWNED', 'w').close()\n")
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("EXPLORER_CACHE", str(tmp_path / "cache"))
    return cwd


def test_a_notebook_in_the_current_folder_is_not_chosen(untrusted):
    nb = find_notebook()
    assert nb != untrusted / "notebooks" / "01-explore.ipynb"
    assert untrusted not in nb.parents
    assert nb == packaged_notebook() == (REPO_NOTEBOOK if REPO_NOTEBOOK.is_file() else None)


def test_a_notebook_given_explicitly_is_used(untrusted):
    assert find_notebook("notebooks/01-explore.ipynb") == untrusted / "notebooks" / "01-explore.ipynb"
    assert find_notebook(untrusted / "notebooks") == untrusted / "notebooks"
    for bad in ("missing.ipynb", ""):
        with pytest.raises(ExplorerError) as e:
            find_notebook(bad)
        assert str(e.value) == (f"notebook {bad!r}: no such file; give the path of a .ipynb file, "
                                f"or none for the dashboard")


def test_the_generated_notebook_is_ours_and_not_in_the_current_folder(untrusted, tmp_path):
    nb = write_dashboard_notebook()
    assert nb == tmp_path / "cache" / "lab" / "explorer-dashboard.ipynb"
    assert [c.source for c in nbformat.read(str(nb), as_version=4).cells][1] == CELL
    text = nb.read_text()
    nb.write_text(text.replace("Explorer(dataset", "__import__('os').system('touch PWNED') or Explorer(dataset"))
    assert write_dashboard_notebook() == nb and nb.read_text() == text  # a tampered copy is rewritten
    assert "PWNED" in (untrusted / "explorer-dashboard.ipynb").read_text()  # the decoy: neither used nor touched
    assert write_dashboard_notebook(tmp_path / "here") == tmp_path / "here" / "explorer-dashboard.ipynb"


@pytest.mark.parametrize("voila", [False, True])
def test_the_server_starts_in_an_empty_folder_of_its_own(untrusted, voila):
    nb = REPO_NOTEBOOK if REPO_NOTEBOOK.is_file() else write_dashboard_notebook()
    cmd, cwd = command(nb, voila=voila, port=8899)
    assert cwd == empty_folder() and list(cwd.iterdir()) == [] and cwd not in (nb.parent, untrusted)
    root = f"--Voila.root_dir={nb.parent}" if voila else f"--ServerApp.root_dir={nb.parent}"
    assert cmd[-3:] == [str(nb), root, "--port=8899"]
    assert cmd[cmd.index("-m") + 1] == ("voila" if voila else "jupyterlab")
    # the interpreter as launched (asked only for its version: no server) imports nothing from the checkout
    p = subprocess.run(cmd[:cmd.index("-m") + 2] + ["--version"], cwd=cwd, capture_output=True, text=True, timeout=120,
                       env=server_env())
    assert p.returncode == 0, p.stderr
    assert not (untrusted / "PWNED").exists() and not (cwd / "PWNED").exists()


def test_the_kernel_spec_keeps_the_notebooks_folder_off_the_path(untrusted):
    spec = json.loads((Path(server_env()["JUPYTER_PATH"].split(os.pathsep)[0]) / "kernels" / "python3" /
                       "kernel.json").read_text())
    assert spec["argv"][:2] == [sys.executable, "-P"][: 2 if sys.version_info >= (3, 11) else 1]
    assert "--ignore-cwd" in spec["argv"] and spec["argv"][-2:] == ["-f", "{connection_file}"]


def test_python_minus_p_keeps_the_current_folder_off_the_path(untrusted):
    """What `command` relies on besides the working folder (Python 3.11+)."""
    if sys.version_info < (3, 11):
        pytest.skip("-P is new in Python 3.11; the working folder alone protects older ones")
    cmd, _ = command(untrusted / "notebooks" / "01-explore.ipynb")
    assert "-P" in cmd
    p = subprocess.run([sys.executable, "-P", "-c", "import voila, sys; print(voila.__file__)"], cwd=untrusted,
                       capture_output=True, text=True, timeout=60)
    assert not (untrusted / "PWNED").exists() and str(untrusted) not in p.stdout


# -- a real server ------------------------------------------------------------------------------------
DECOYS_HERE = ("voila", "jupyter_server_config", "socket")  # the folder `explorer lab` is started in
DECOYS_BESIDE = ("ipykernel_launcher", "socket", "numpy", "voila", "json")  # the notebook's folder


def _decoy(folder: Path, module: str, report: Path) -> None:
    (folder / f"{module}.py").write_text(f"import os\nopen(os.path.join({str(report)!r}, 'RAN-{module}-' + "
                                         f"{folder.name!r} + '-%d' % os.getpid()), 'w').close()\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes_with(text: str) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and text.encode() in (d / "cmdline").read_bytes() and int(d.name) != os.getpid():
                out.append(int(d.name))
        except OSError:
            pass
    return out


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl-C", "SIGKILL"])
def test_explorer_lab_voila_runs_nothing_from_its_folders_and_stops_cleanly(tmp_path, how):
    """Issue 19: `explorer lab NOTEBOOK` ran a voila.py from the current folder (Voila reads it as a
    config file), `explorer lab --voila DIR/nb.ipynb` an ipykernel_launcher.py beside the notebook;
    SIGTERM left the Voila child serving, Ctrl-C printed Voila's traceback and left /tmp/voila_*."""
    here, beside, report, tmp = (tmp_path / n for n in ("here", "notebooks", "report", "tmp"))
    for d in (here, beside, report, tmp):
        d.mkdir()
    for m in DECOYS_HERE:
        _decoy(here, m, report)
    for m in DECOYS_BESIDE:
        _decoy(beside, m, report)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"import sys\nopen({str(report / 'sys.path')!r}, 'w').write('\\n'.join("
                                          f"sys.path))\nprint('the kernel ran')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(beside / "nb.ipynb"))
    port = _free_port()
    env = {**os.environ, "EXPLORER_CACHE": str(tmp_path / "cache"), "TMPDIR": str(tmp)}
    lab = subprocess.Popen([sys.executable, "-P", "-m", "explorer", "lab", "--voila", "--port", str(port),
                            str(beside / "nb.ipynb")], cwd=here, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert lab.poll() is None, lab.communicate()[0]
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60).read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline, "Voila did not answer"
                time.sleep(0.5)
        assert "the kernel ran" in page
        server = _processes_with(f"--port={port}")
        kernels = [p for p in _processes_with("ipykernel_launcher") if (tmp_path / "cache").as_posix().encode()
                   in Path(f"/proc/{p}/environ").read_bytes()]
        assert server and kernels and os.listdir(tmp) != []  # Voila's connection folder is in TMPDIR
        t0 = time.monotonic()
        if how == "Ctrl-C":  # a terminal sends it to the whole foreground group
            os.killpg(lab.pid, signal.SIGINT)
        else:
            lab.send_signal(getattr(signal, how))
        out = lab.communicate(timeout=60)[0]
        deadline = time.monotonic() + 20
        while (left := [p for p in server + kernels if os.path.exists(f"/proc/{p}")
                        and "zombie" not in Path(f"/proc/{p}/status").read_text().lower()]) \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        print(f"{how}: `explorer lab` ended with {lab.returncode}, its server and kernel gone "
              f"{time.monotonic() - t0:.1f} s after")
    finally:
        if lab.poll() is None:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait()
    assert left == [], f"still running after {how}: {left}"
    assert sorted(p.name for p in report.iterdir()) == ["sys.path"], "a decoy ran"
    path = (report / "sys.path").read_text().splitlines()
    assert str(beside) not in path and "" not in path and str(here) not in path
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out[-3000:]
    assert os.listdir(tmp) == [], f"left in TMPDIR: {os.listdir(tmp)}"
    assert lab.returncode == {"SIGTERM": 143, "Ctrl-C": 0, "SIGKILL": -9}[how]
