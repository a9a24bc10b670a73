"""This machine's ceilings, measured at the start of every `fastconv bench` run (and stored in its
JSON): the fp32 FMA peak of fastconv's ISA path, and copy bandwidth.

- fma_peak_f32: independent FMA chains on every benchmark thread, no memory traffic
  (`_C.measure_fma_peak`, csrc/cpu/ceilings/). A sanity check against theory is
  flops_per_cycle_per_core = gflops / (threads * GHz): 2 FMA pipes x 8 fp32 lanes x 2 = 32 on
  AVX2 cores with two 256-bit FMA units (and on AMD Zen 4 for AVX-512), 64 on Intel cores with
  two 512-bit FMA units.
- copy_bandwidth: memcpy of a 256 MiB buffer split over the threads (`_C.measure_copy_bandwidth`),
  bytes read + written per second, best repeat, or NumPy's single-thread copy where that is faster.
Each is the best of a few short runs (another process on a shared machine only lowers them).
"""

from __future__ import annotations

import time
from typing import Dict, Optional

import numpy as np

from .. import _C


def cpu_mhz() -> Optional[float]:
    """The current clock of the first CPU as /proc/cpuinfo says (Linux), else None."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("cpu MHz"):
                    return float(line.split(":", 1)[1])
    except (OSError, ValueError):
        pass
    return None


def numpy_copy_gbps(nbytes: int = 256 << 20, repeats: int = 3) -> float:
    """Best of `repeats` np.copyto of an nbytes float32 buffer (single-threaded), read + write."""
    src = np.ones(nbytes // 4, dtype=np.float32)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - start)
    return 2 * src.nbytes / best / 1e9


def _best(measure_once, key: str, tries: int) -> Dict:
    """The best of `tries` measurements: on a shared machine another process taking a core
    lowers a measurement, never raises it."""
    return max((measure_once() for _ in range(tries)), key=lambda r: r[key])


def measure(threads: int, seconds: float = 0.2, copy_bytes: int = 256 << 20,
            tries: int = 3) -> Dict:
    """The ceilings for `threads` threads (positive numbers; see the module doc); each the best
    of `tries` runs of `seconds / tries`."""
    each = seconds / tries
    f32 = _best(lambda: _C.measure_fma_peak("float32", threads, each), "gflops", tries)
    f64 = _best(lambda: _C.measure_fma_peak("float64", threads, each), "gflops", tries)
    copy = _best(lambda: _C.measure_copy_bandwidth(copy_bytes, threads, each), "gbps", tries)
    numpy_copy = numpy_copy_gbps(copy_bytes)
    mhz = cpu_mhz()
    out = {
        "threads": threads,
        "fma_peak_f32_gflops": f32["gflops"],
        "fma_peak_f64_gflops": f64["gflops"],
        "fma_kernel_f32": f32["kernel"],
        "fma_kernel_f64": f64["kernel"],
        # the ceiling: the faster of the threaded memcpy and NumPy's copy
        "copy_gbps": max(copy["gbps"], numpy_copy),
        "memcpy_gbps": copy["gbps"],
        "copy_bytes": int(copy["bytes"]),
        "numpy_copy_gbps_1thread": numpy_copy,
        "cpu_mhz_reported": mhz,
        "f32_flops_per_cycle_per_core": (f32["gflops"] * 1e3 / (threads * mhz)) if mhz else None,
        "seconds_each": seconds,
        "tries": tries,
    }
    return out
