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
    shutil.rmtree(d, ignore_errors=True)
