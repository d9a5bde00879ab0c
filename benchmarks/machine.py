"""What the benchmarks record about the machine they ran on: figures from different processors don't compare."""

import platform
from pathlib import Path


def processor_name() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), or the architecture elsewhere."""
    cpuinfo = Path("/proc/cpuinfo")
    for line in cpuinfo.read_text().splitlines() if cpuinfo.exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()
