"""Runs the benchmark cases: fastconv and its peers in the same process, on the same data, with the
same thread count, interleaved (fastconv, torch, scipy, ..., fastconv, torch, ...), after one
warm-up call each; reports the median of the repeats and its spread (min, max, quartiles).

Calls shorter than about 2 ms are timed in batches of `inner` calls per sample (the sample / inner
is the per-call time), so that the clock's resolution and the loop do not dominate.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
import time
import tracemalloc
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

import fastconv

from . import ceilings as ceilings_mod
from .peers import PHASES, build, optional_module, peer_versions
from .shapes import Case
from .targets import is_depthwise, roofline_seconds

# A sample repeats a short call for at least this long. The callables are interleaved, and the
# first call of a sample shares the cores with the previous library's idle OpenMP workers, which
# spin for a while after each call (GNU libgomp's default): over a 2 ms sample, that cost 13% of
# a 0.45 ms call (Fashion-MNIST conv1 forward: 0.490 ms measured after torch, 0.434 ms for the
# same algorithm measured after fastconv); 10 ms spreads it over 5x as many calls.
MIN_SAMPLE_S = 0.01
MAX_INNER = 1000


def _now() -> float:
    return time.perf_counter()


def _call_time(fn: Callable) -> float:
    start = _now()
    fn()
    return _now() - start


def _first_array(result):
    """The first array of a result (an array, a tensor, or a tuple of them with Nones)."""
    if isinstance(result, (tuple, list)):
        result = next(r for r in result if r is not None)
    if hasattr(result, "detach"):
        result = result.detach().numpy()
    return np.asarray(result)


def _rel_diff(a, b) -> Optional[float]:
    try:
        a, b = _first_array(a), _first_array(b)
        if a.shape != b.shape:
            return float("inf")
        scale = float(np.max(np.abs(b))) or 1.0
        return float(np.max(np.abs(a.astype(np.float64) - b))) / scale
    except Exception:  # a peer returning something unexpected must not end the run
        return None


def _rss_supported() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _vm(key: str) -> Optional[int]:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def measure_memory(fn: Callable, rss: bool) -> Dict[str, Optional[int]]:
    """Memory of one call, beyond its result's arrays:
    - numpy_extra_bytes: peak of the Python/NumPy allocations during the call (tracemalloc), minus
      the result's bytes: temporaries made in Python (padding copies, reshapes that copy);
    - rss_extra_bytes (Linux): growth of the process's peak resident set during the call (peak
      reset through /proc/self/clear_refs), minus the result's bytes: this includes the C++
      workspace (e.g. im2col buffers). Meaningful after `_fresh_allocations()`, which makes every
      allocation of 64 KiB or more a fresh mapping (else memory that an earlier call left in
      malloc's free lists is reused without growing the resident set). Allocations under 64 KiB
      may still come from resident heap memory: a lower bound."""
    out: Dict[str, Optional[int]] = {"numpy_extra_bytes": None, "rss_extra_bytes": None}
    fastconv.empty_output_cache()  # the result's memory, too, is then a fresh mapping
    rss_before = None
    if rss:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        rss_before = _vm("VmHWM")
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    arrays = result if isinstance(result, (tuple, list)) else (result,)
    result_bytes = sum(int(getattr(a, "nbytes", 0)) for a in arrays if a is not None)
    out["numpy_extra_bytes"] = max(0, peak - result_bytes)
    if rss and rss_before is not None:
        hwm = _vm("VmHWM")
        if hwm is not None:
            out["rss_extra_bytes"] = max(0, hwm - rss_before - result_bytes)
    return out


def _malloc_thresholds(mmap_threshold: int, trim_threshold: int) -> bool:
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        m_trim_threshold, m_mmap_threshold = -1, -3
        ok = libc.mallopt(m_mmap_threshold, mmap_threshold) == 1
        ok = ok and libc.mallopt(m_trim_threshold, trim_threshold) == 1
        libc.malloc_trim(0)
        return bool(ok)
    except (OSError, AttributeError):
        return False


def _fresh_allocations() -> bool:
    """glibc: a fixed 64 KiB mmap threshold (no dynamic raise) and a low trim threshold, so that
    the resident set grows by what a call allocates. Set only after all timings are taken (it
    would add page faults to every call of every library)."""
    return _malloc_thresholds(64 << 10, 128 << 10)


def _steady_allocations() -> None:
    """glibc's thresholds fixed where its dynamic adjustment ends up after large frees (32 MiB
    mmap, 64 MiB trim), for the timings and for whatever the process runs next. Without this,
    every library's speed depends on what the process freed before: torch's Fashion-MNIST conv1
    forward took 3.2 ms in a fresh process (its buffers mapped and faulted in on every call) and
    0.44 ms once any earlier free had raised the threshold; rows would depend on the set order."""
    _malloc_thresholds(32 << 20, 64 << 20)


def _stats(samples: Sequence[float]) -> Dict[str, float]:
    s = sorted(samples)
    q = statistics.quantiles(s, n=4) if len(s) >= 2 else [s[0]] * 3
    return {"median_s": statistics.median(s), "min_s": s[0], "max_s": s[-1], "q1_s": q[0],
            "q3_s": q[2], "samples": len(s)}


# OpenBLAS's idle workers spin for about 2^28 cycles (0.1 s at 2.6 GHz) after each call; waiting
# this long lets them sleep before anything else is timed.
POOL_SPIN_S = 0.25


def _time_rounds(fns: Dict[str, Callable], inner: Dict[str, int], repeats: int,
                 samples: Dict[str, List[float]]) -> None:
    for _ in range(repeats):
        for name, fn in fns.items():
            k = inner[name]
            start = _now()
            for _ in range(k):
                fn()
            samples[name].append((_now() - start) / k)


def time_interleaved(fns: Dict[str, Callable], repeats: int,
                     own_pool: Sequence[str] = ()) -> Dict[str, Dict]:
    """Per-call time statistics of each callable: warm-up, then `repeats` rounds, one sample of
    each callable per round, in a fixed order.

    Callables named in `own_pool` use a library with its own thread pool whose idle workers spin
    (NumPy's OpenBLAS): interleaved, their spinning worker takes a core from the next call, which
    measured up to 19x slower (a 2 ms 1x1 conv took 38 ms right after a NumPy matmul). They are
    timed in their own rounds after the others, and the run waits for their workers to sleep."""
    inner = {}
    for name, fn in fns.items():
        t = _call_time(fn)  # warm-up: caches, allocator, thread pools
        if t < 10 * MIN_SAMPLE_S:
            t = _call_time(fn)  # a short call: estimate again, warm
        inner[name] = int(min(MAX_INNER, max(1, np.ceil(MIN_SAMPLE_S / max(t, 1e-9)))))
    pooled = {name: fn for name, fn in fns.items() if name in own_pool}
    shared = {name: fn for name, fn in fns.items() if name not in own_pool}
    samples: Dict[str, List[float]] = {name: [] for name in fns}
    if pooled:
        time.sleep(POOL_SPIN_S)  # the warm-up above ran them
    _time_rounds(shared, inner, repeats, samples)
    if pooled:
        _time_rounds(pooled, inner, repeats, samples)
        time.sleep(POOL_SPIN_S)
    return {name: dict(_stats(samples[name]), inner=inner[name]) for name in fns}


# ------------------------------------------------------------------------------ machine

def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def git_commit() -> Optional[str]:
    """The commit this fastconv was built from (recorded by CMake at build time), or None."""
    commit = fastconv.build_info().get("commit")
    return None if commit in (None, "", "unknown") else commit


def load_average() -> Optional[List[float]]:
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def machine_info(threads: int, torch, load_at_start: Optional[List[float]]) -> Dict:
    info = fastconv.build_info()
    return {
        "cpu": cpu_model(),
        "cores": available_cores(),
        "isa": info.get("isa"),
        "isa_detected": info.get("isa_detected"),
        "build_info": info,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": dict(peer_versions(), fastconv=fastconv.__version__),
        "torch_cpu_capability": (torch.backends.cpu.get_cpu_capability()
                                 if torch is not None else None),
        "commit": git_commit(),
        "threads": threads,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "load_average_at_start": load_at_start,
    }


# ---------------------------------------------------------------------------------- run

class Progress:
    """tqdm's bar when installed, else one line per step."""

    def __init__(self, total: int, enabled: bool = True):
        self.total, self.count, self.enabled = total, 0, enabled
        tqdm = optional_module("tqdm")
        self.bar = tqdm.tqdm(total=total, unit="case", dynamic_ncols=True) \
            if (tqdm is not None and enabled) else None

    def step(self, text: str) -> None:
        self.count += 1
        if self.bar is not None:
            self.bar.set_postfix_str(text[:60])
            self.bar.update(1)
        elif self.enabled:
            print(f"[{self.count}/{self.total}] {text}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_case(case: Case, phase: str, repeats: int, torch, seed: int, rss: bool,
             algorithms: Sequence[str] = ()) -> Dict:
    rng = np.random.default_rng(seed)
    w = build(case, phase, rng, torch, algorithms)
    row = {"set": case.set, "case": case.label, "op": case.op, "params": case.describe(),
           "source": case.source, "phase": phase, "unit": w.unit, "work": w.work,
           "status": "ok", "fastconv": None, "peers": {}, "check": {}, "memory": None,
           "notes": list(w.notes)}
    if w.skip is not None:
        row["status"] = f"skipped: {w.skip}"
        if w.fastconv is None and not w.peers:
            return row
    fns = {}
    if w.fastconv is not None:
        fns["fastconv"] = w.fastconv
    fns.update(w.peers)
    # correctness of the wiring: every peer against fastconv, once, before timing
    if w.fastconv is not None:
        reference = w.fastconv()
        for name, fn in w.peers.items():
            row["check"][name] = _rel_diff(fn(), reference)
        if w.own_pool:
            time.sleep(POOL_SPIN_S)
    times = time_interleaved(fns, repeats, w.own_pool)
    scale = 1e9

    def rate(t):
        return w.work / t / scale if t > 0 else None

    if "fastconv" in times:
        row["fastconv"] = dict(times["fastconv"], rate=rate(times["fastconv"]["median_s"]))
    for name in w.peers:
        t = times[name]
        entry = dict(t, rate=rate(t["median_s"]))
        if row["fastconv"] is not None:
            entry["ratio"] = t["median_s"] / row["fastconv"]["median_s"]
        row["peers"][name] = entry
    return row


def run(cases: Sequence[Case], phases: Sequence[str], threads: int, repeats: int,
        ceiling_seconds: float = 0.2, progress: bool = True, seed: int = 0,
        on_row: Optional[Callable[[Dict], None]] = None,
        algorithms: Sequence[str] = ()) -> Dict:
    """Runs every case and phase; returns the results document (see report.write)."""
    torch = optional_module("torch")
    notes = []
    if torch is None:
        notes.append("torch is not installed: no torch peer (pip install torch).")
    else:
        torch.set_num_threads(threads)
    if optional_module("scipy.signal") is None:
        notes.append("SciPy is not installed: no SciPy peer.")
    previous_threads = fastconv.get_num_threads()
    fastconv.set_num_threads(threads)
    rss = _rss_supported()
    _steady_allocations()
    load_at_start = load_average()  # machine_info is assembled after the run
    try:
        start = _now()
        ceilings = ceilings_mod.measure(threads, ceiling_seconds)
        units = [(c, p) for c in cases for p in phases]
        bar = Progress(len(units), progress)
        rows, row_units = [], []
        interrupted = False
        try:
            for i, (case, phase) in enumerate(units):
                row = run_case(case, phase, repeats, torch, seed + i, rss, algorithms)
                if row["fastconv"] is not None:
                    if row["unit"] == "GFLOP/s" and is_depthwise(case):
                        # depthwise: mostly memory-bound, so the roofline, not the FMA peak
                        row["fraction_of_ceiling"] = roofline_seconds(
                            case, row["work"], ceilings) / row["fastconv"]["median_s"]
                    elif row["unit"] == "GFLOP/s":
                        row["fraction_of_ceiling"] = row["fastconv"]["rate"] / ceilings[
                            "fma_peak_f32_gflops"]
                    else:
                        row["fraction_of_ceiling"] = row["fastconv"]["rate"] / ceilings["copy_gbps"]
                if row["status"] != "skipped: not applicable":
                    rows.append(row)
                    row_units.append((case, phase, seed + i))
                    if on_row:
                        on_row(row)
                bar.step(f"{case.label} {phase}")
            # memory of one call per row, after every timing (see measure_memory)
            if rss and _fresh_allocations():
                for row, (case, phase, seed_i) in zip(rows, row_units):
                    if row["fastconv"] is None:
                        continue
                    w = build(case, phase, np.random.default_rng(seed_i), torch)
                    row["memory"] = measure_memory(w.fastconv, True)
                    if "torch" in w.peers:
                        row["memory"]["torch_rss_extra_bytes"] = measure_memory(
                            w.peers["torch"], True)["rss_extra_bytes"]
                    del w
                _steady_allocations()
            else:
                notes.append("Extra memory per call not measured (needs Linux and glibc).")
        except KeyboardInterrupt:
            interrupted = True
            notes.append("Interrupted: the results cover the cases finished before.")
        finally:
            bar.close()
        elapsed = _now() - start
    finally:
        fastconv.set_num_threads(previous_threads)
    return {
        "machine": machine_info(threads, torch, load_at_start),
        "ceilings": ceilings,
        "settings": {"repeats": repeats, "phases": list(phases), "dtype": "float32",
                     "statistic": "median of interleaved repeats after one warm-up call",
                     "cases": len(cases), "min_sample_s": MIN_SAMPLE_S,
                     "memory": ("measured after all timings, one call per row: "
                                "numpy_extra_bytes: tracemalloc peak of Python/NumPy allocations "
                                "during the call minus the result; rss_extra_bytes (and "
                                "torch_rss_extra_bytes for torch's call): peak-RSS growth during "
                                "the call minus the result, with glibc's mmap threshold fixed at "
                                "64 KiB so that every large allocation (C++ workspace included) "
                                "is fresh memory")},
        "elapsed_s": elapsed,
        "load_average_at_end": load_average(),
        "interrupted": interrupted,
        "notes": notes,
        "rows": rows,
    }
