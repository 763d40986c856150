import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def shared_dir():
    """A folder user `nobody` can reach (tmp_path's parents are 0700), removed after."""
    d = Path(tempfile.mkdtemp(prefix="explorer-test-"))
    d.chmod(0o755)
    yield d
    for folder in [d, *(p for p in d.rglob("*") if p.is_dir() and not p.is_symlink())]:
        folder.chmod(0o755)  # tests make folders read-only; a normal user could not empty them
    shutil.rmtree(d, ignore_errors=True)
