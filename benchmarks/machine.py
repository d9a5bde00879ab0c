"""What the benchmarks record about the machine they ran on: figures from different processors don't compare."""

import platform
from pathlib import Path

# The widest matrix and vector units a processor has, widest first: two CPUs of one model name can differ here
# (AMD EPYC with AVX-512 BF16, or with AVX2 alone), and so do their kernels' rounding and speed.
VECTOR_UNITS = (("amx_bf16", "AMX"), ("avx512_bf16", "AVX-512 BF16"), ("avx512f", "AVX-512"), ("avx2", "AVX2"))


def processor_name() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux) with its widest vector units, or the architecture."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    flags = next((set(line.split(":", 1)[1].split()) for line in lines if line.startswith("flags")), set())
    units = next((name for flag, name in VECTOR_UNITS if flag in flags), None)
    if not names:
        return platform.machine()
    return f"{names[0]} ({units})" if units else names[0]
