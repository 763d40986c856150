"""Running code as user `nobody`, so that permission bits apply (the tests run as root in CI):
a folder nobody can reach is the `shared_dir` fixture (conftest.py)."""

import subprocess
import sys
import textwrap

NOBODY = 65534


def run_as_nobody(code: str, imports: str) -> subprocess.CompletedProcess:
    """`code` in a child process that runs `imports` first (so that reading the modules needs no
    permission), then, when started as root, becomes `nobody`. Its output is captured."""
    prelude = textwrap.dedent(f"""
        import os, sys
        {imports}
        if os.geteuid() == 0:
            os.setgroups([]); os.setgid({NOBODY}); os.setuid({NOBODY})
    """)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, cwd="/")
