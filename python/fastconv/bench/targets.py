"""The performance targets fastconv is held to (the CPU speed issue), checked on a run's rows:
results.md says for each one whether this run met it, and which row is furthest from it.

Ratios are fastconv's speedup over torch in the same run; bandwidth fractions are bytes read +
written over the copy bandwidth measured at the start of the run (for depthwise convolutions:
input, weight and output once each, whatever the pass, or their flops over the FMA peak where
that takes longer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

from .shapes import Case, conv_output_size, numel, parse_line

def geomean(values) -> Optional[float]:
    values = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


# Enough work for a dense convolution to be held to the FMA-peak target (1 GFLOP).
MIN_PEAK_WORK = 1e9


def _case(row: Dict) -> Case:
    return parse_line(row["params"])


def _ratio(row: Dict) -> Optional[float]:
    torch = row["peers"].get("torch")
    return torch.get("ratio") if torch else None


def _is_conv(case: Case) -> bool:
    return case.op.startswith("conv")


def is_depthwise(case: Case) -> bool:
    return _is_conv(case) and case.params["groups"] == case.params["c"] > 1 and \
        not case.op.startswith("conv_transpose")


def _is_dense(case: Case) -> bool:
    return _is_conv(case) and case.params["groups"] == 1


def _conv_bytes(case: Case) -> int:
    """Input, weight and output of a convolution, float32, each once."""
    p, kernel = case.params, case.kernel()
    x = numel(case.input_shape())
    w = p["k"] * (p["c"] // p["groups"]) * numel(kernel)
    out = [conv_output_size(s, k, st, pd, d) for s, k, st, pd, d in
           zip(case.input_shape()[2:], kernel, p["stride"], p["pad"], p["dil"])]
    return 4 * (x + w + p["n"] * p["k"] * numel(out))


def roofline_seconds(case: Case, work: float, ceilings: Dict) -> float:
    """The shortest time a convolution can take: its bytes at the copy bandwidth or its flops at
    the FMA peak, whichever is longer (a 3x3 depthwise kernel is memory-bound, a 31x31 one
    compute-bound)."""
    return max(_conv_bytes(case) / (ceilings["copy_gbps"] * 1e9),
               work / (ceilings["fma_peak_f32_gflops"] * 1e9))


def _bandwidth_fraction(row: Dict, ceilings: Dict) -> Optional[float]:
    """The fraction of the roofline (see roofline_seconds) over the measured time; for pooling
    and activations, the row's GB/s over the copy bandwidth."""
    f = row["fastconv"]
    if not f or not f["median_s"]:
        return None
    if row["unit"] == "GB/s":
        return row.get("fraction_of_ceiling")
    return roofline_seconds(_case(row), row["work"], ceilings) / f["median_s"]


@dataclass(frozen=True)
class Target:
    name: str
    selects: Callable[[Case, Dict], bool]  # which rows the target is about
    value: str                              # "ratio" (to torch) or "peak" or "bandwidth"
    threshold: float
    aggregate: bool = False                 # the geometric mean of the rows, not each row


TARGETS = [
    Target("geometric-mean speedup over torch >= 1.5x", lambda c, r: True, "ratio", 1.5,
           aggregate=True),
    Target("every row >= 0.9x torch", lambda c, r: True, "ratio", 0.9),
    Target("dense convolutions >= 1.0x torch", lambda c, r: _is_dense(c), "ratio", 1.0),
    Target("dense convolutions with >= 1 GFLOP at >= 80% of the FMA peak",
           lambda c, r: _is_dense(c) and r["work"] >= MIN_PEAK_WORK, "peak", 0.8),
    Target("1x1 convolutions >= 1.3x torch",
           lambda c, r: _is_dense(c) and all(k == 1 for k in c.kernel()), "ratio", 1.3),
    Target("7x7/2 stems >= 1.3x torch",
           lambda c, r: _is_dense(c) and c.params["c"] == 3 and set(c.kernel()) == {7}
           and set(c.params["stride"]) == {2}, "ratio", 1.3),
    Target("non-square kernels >= 1.3x torch",
           lambda c, r: _is_dense(c) and c.ndim == 2 and len(set(c.kernel())) > 1, "ratio", 1.3),
    Target("3x3 stride-1 convolutions >= 1.3x torch",
           lambda c, r: _is_dense(c) and not c.op.startswith("conv_transpose") and c.ndim == 2
           and c.kernel() == (3, 3) and c.params["stride"] == (1, 1)
           and c.params["dil"] == (1, 1), "ratio", 1.3),
    Target("depthwise convolutions at >= 70% of the roofline (copy bandwidth or FMA peak)",
           lambda c, r: is_depthwise(c), "bandwidth", 0.7),
    Target("pooling at >= 70% of the copy bandwidth",
           lambda c, r: c.op.endswith("pool2d"), "bandwidth", 0.7),
    Target("activations at >= 70% of the copy bandwidth",
           lambda c, r: r["set"] == "activation", "bandwidth", 0.7),
]


def evaluate(doc: Dict) -> List[Dict]:
    """One entry per target: rows it covers, rows meeting it, met or not, the furthest row."""
    rows = [r for r in doc["rows"] if r["fastconv"] and r["fastconv"]["median_s"]]
    results = []
    for t in TARGETS:
        values = []
        for r in rows:
            case = _case(r)
            if t.value != "ratio" and not r["work"]:
                continue  # an empty batch (the overhead rows) has no rate
            if not t.selects(case, r):
                continue
            v = (_ratio(r) if t.value == "ratio" else r.get("fraction_of_ceiling")
                 if t.value == "peak" else _bandwidth_fraction(r, doc["ceilings"]))
            if v is not None:
                values.append((v, r))
        entry = {"target": t.name, "rows": len(values)}
        if not values:
            entry.update(met=None, meeting=0)
        elif t.aggregate:
            g = geomean(v for v, _ in values)
            entry.update(met=g >= t.threshold, meeting=None, value=g)
        else:
            worst_value, worst = min(values, key=lambda vr: vr[0])
            entry.update(met=worst_value >= t.threshold,
                         meeting=sum(1 for v, _ in values if v >= t.threshold),
                         worst={"case": worst["case"], "phase": worst["phase"],
                                "value": worst_value})
        entry["kind"] = t.value
        results.append(entry)
    return results


def markdown_lines(results: List[Dict]) -> List[str]:
    def fmt(kind: str, v: float) -> str:
        return f"{v:.2f}x" if kind == "ratio" else f"{v * 100:.0f}%"

    lines = ["## Targets", "", "| target | rows | meeting it | met | furthest row |",
             "|---|---:|---:|---|---|"]
    for e in results:
        if e["rows"] == 0:
            lines.append(f"| {e['target']} | 0 | - | no rows in this run | - |")
            continue
        met = "yes" if e["met"] else "**no**"
        if e["meeting"] is None:  # an aggregate
            lines.append(f"| {e['target']} | {e['rows']} | - | {met} ({fmt(e['kind'], e['value'])})"
                         f" | - |")
        else:
            w = e["worst"]
            lines.append(f"| {e['target']} | {e['rows']} | {e['meeting']} | {met} | {w['case']} "
                         f"({w['phase']}): {fmt(e['kind'], w['value'])} |")
    return lines
