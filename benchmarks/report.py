"""What every benchmark prints: markdown tables and the machine it ran on. Imported by the
bench_*.py scripts (run as `python benchmarks/bench_NAME.py`, so this folder is on sys.path)."""

from __future__ import annotations

import platform
import subprocess
import sys


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def table(title, header, rows) -> None:
    """A markdown table under a `## title` heading, flushed (long benchmarks print as they go)."""
    print(f"\n## {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")
    sys.stdout.flush()
