"""`explorer lab` (explorer/lab.py) never runs code from the folder it is started in: the
notebook is the given one, the packaged one or one it writes itself, and the server starts in
that notebook's folder. No server is started here."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import explorer
from explorer.errors import ExplorerError
from explorer.lab import CELL, command, find_notebook, packaged_notebook, write_dashboard_notebook

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
def test_the_server_starts_in_the_notebooks_folder(untrusted, voila):
    nb = REPO_NOTEBOOK if REPO_NOTEBOOK.is_file() else write_dashboard_notebook()
    cmd, cwd = command(nb, voila=voila, port=8899)
    assert cwd == nb.parent != untrusted
    assert cmd[-2:] == [str(nb), "--port=8899"] and cmd[cmd.index("-m") + 1] == ("voila" if voila else "jupyterlab")
    # the interpreter as launched (asked only for its version: no server) imports nothing from the checkout
    p = subprocess.run(cmd[:cmd.index("-m") + 2] + ["--version"], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert not (untrusted / "PWNED").exists() and not (cwd / "PWNED").exists()


def test_python_minus_p_keeps_the_current_folder_off_the_path(untrusted):
    """What `command` relies on besides the working folder (Python 3.11+)."""
    if sys.version_info < (3, 11):
        pytest.skip("-P is new in Python 3.11; the working folder alone protects older ones")
    cmd, _ = command(untrusted / "notebooks" / "01-explore.ipynb")
    assert "-P" in cmd
    p = subprocess.run([sys.executable, "-P", "-c", "import voila, sys; print(voila.__file__)"], cwd=untrusted,
                       capture_output=True, text=True, timeout=60)
    assert not (untrusted / "PWNED").exists() and str(untrusted) not in p.stdout
