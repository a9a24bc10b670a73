"""Writes the results of `fastconv bench`: results.json (everything), results.md (a table per
shape set with a summary) and speedup.png (fastconv's speedup over torch per case, matplotlib
with the Agg backend; skipped with a note when matplotlib is not installed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional

from .peers import optional_module
from .targets import evaluate, geomean, markdown_lines

INSTALL_HINT = 'pip install "fastconv[bench]"  (tqdm and matplotlib)'
PHASE_SHORT = {"forward": "fwd", "backward_data": "bwd data", "backward_weight": "bwd weight"}


def _ms(t: Optional[float]) -> str:
    return "-" if t is None else (f"{t * 1e3:.3f}" if t < 1e-2 else f"{t * 1e3:.2f}")


def _num(v: Optional[float], fmt: str = ".2f") -> str:
    return "-" if v is None else format(v, fmt)


def _mib(b: Optional[int]) -> str:
    return "-" if b is None else f"{b / 2**20:.1f}"


def peers_of(rows: List[Dict]) -> List[str]:
    names: List[str] = []
    for r in rows:
        for name in r["peers"]:
            if name not in names:
                names.append(name)
    return sorted(names, key=lambda n: (n != "torch", n))


def summary(doc: Dict) -> Dict:
    """Geometric-mean speedups over torch per phase and overall, the slowest rows."""
    rows = [r for r in doc["rows"] if r["fastconv"] and "torch" in r["peers"]]
    out = {"geomean_vs_torch": geomean(r["peers"]["torch"]["ratio"] for r in rows),
           "rows_vs_torch": len(rows),
           "below_0.9": sum(1 for r in rows if r["peers"]["torch"]["ratio"] < 0.9)}
    for phase in doc["settings"]["phases"]:
        out[f"geomean_vs_torch_{phase}"] = geomean(
            r["peers"]["torch"]["ratio"] for r in rows if r["phase"] == phase)
    if rows:
        worst = min(rows, key=lambda r: r["peers"]["torch"]["ratio"])
        out["slowest_vs_torch"] = {"case": worst["case"], "phase": worst["phase"],
                                   "ratio": worst["peers"]["torch"]["ratio"]}
    out["targets"] = evaluate(doc)
    return out


def markdown(doc: Dict) -> str:
    m, c, s = doc["machine"], doc["ceilings"], doc["settings"]
    v = m["versions"]
    rows = doc["rows"]
    peers = peers_of(rows)
    summ = doc.get("summary") or summary(doc)
    lines = [
        f"# fastconv bench: CPU, float32, {m['threads']} threads",
        "",
        f"- machine: {m['cpu']}, {m['cores']} cores available; fastconv ISA path {m['isa']} "
        f"(detected {m['isa_detected']}); {m['platform']}; load average at start "
        f"{m['load_average_at_start']}",
        f"- versions: fastconv {v['fastconv']} (commit {m['commit'] or 'unknown'}), torch "
        f"{v.get('torch')} (CPU capability {m.get('torch_cpu_capability')}), SciPy {v.get('scipy')}, "
        f"NumPy {v.get('numpy')}, Python {m['python']}; {m['date']}",
        f"- ceilings (measured at start): fp32 FMA peak {c['fma_peak_f32_gflops']:.1f} GFLOP/s "
        f"({c['fma_kernel_f32']}, {_num(c.get('f32_flops_per_cycle_per_core'), '.1f')} flop/cycle/core "
        f"at the reported {_num(c.get('cpu_mhz_reported'), '.0f')} MHz), fp64 "
        f"{c['fma_peak_f64_gflops']:.1f} GFLOP/s; copy bandwidth {c['copy_gbps']:.1f} GB/s "
        f"(best of memcpy of {c['copy_bytes'] >> 20} MiB on {c['threads']} threads, "
        f"{c['memcpy_gbps']:.1f}, and NumPy's 1-thread copy, {c['numpy_copy_gbps_1thread']:.1f}; "
        f"bytes read + written)",
        f"- method: {s['statistic']}, {s['repeats']} repeats, calls under "
        f"{s['min_sample_s'] * 1e3:.0f} ms timed in batches; peers in the same process on the same "
        f"data with the same thread count (NumPy's BLAS keeps its own, and is timed after the "
        f"others because its idle workers spin for ~0.1 s, taking a core from whatever runs "
        f"next). Times are per call; "
        f"`x peer` = peer time / fastconv time (> 1: fastconv faster); `% ceil` = fastconv's "
        f"GFLOP/s (2 x multiply-adds) over the FMA peak, or its GB/s (bytes read + written) over "
        f"the copy bandwidth; for depthwise convolutions the roofline: the longer of input, "
        f"weight and output at the copy bandwidth and the flops at the FMA peak, over the time; `extra MiB` = peak-RSS growth of one fastconv call beyond its "
        f"result (C++ workspace included; measured after the timings with every allocation of "
        f"64 KiB or more fresh; torch's in parentheses).",
        "- cases whose data fit in the caches can exceed the copy bandwidth (% ceil > 100); "
        "the load average shows whether other processes shared the cores.",
        f"- whole run: {doc['elapsed_s']:.0f} s" + (" (interrupted)" if doc.get("interrupted") else "")
        + f"; load average at end {doc.get('load_average_at_end')}",
        "",
        "## Summary",
        "",
        f"- geometric-mean speedup over torch: **{_num(summ['geomean_vs_torch'], '.3f')}** over "
        f"{summ['rows_vs_torch']} rows ("
        + ", ".join(f"{p}: {_num(summ.get('geomean_vs_torch_' + p), '.3f')}" for p in s["phases"])
        + f"); rows below 0.9x torch: {summ['below_0.9']}",
    ]
    if "slowest_vs_torch" in summ:
        w = summ["slowest_vs_torch"]
        lines.append(f"- slowest against torch: {w['case']} ({w['phase']}) at {w['ratio']:.2f}x")
    for note in doc["notes"]:
        lines.append(f"- note: {note}")
    if summ.get("targets"):
        lines += [""] + markdown_lines(summ["targets"])
    header = ("| case | phase | fastconv ms (min-max) | rate | % ceil | "
              + " | ".join(f"{p} ms | x {p}" for p in peers) + " | extra MiB |")
    align = "|---|---|---:|---:|---:|" + "---:|---:|" * len(peers) + "---:|"
    current_set = None
    for r in rows:
        if r["set"] != current_set:
            current_set = r["set"]
            lines += ["", f"## {current_set}", "", header, align]
        f = r["fastconv"]
        if f is None:
            cells = [r["case"], PHASE_SHORT.get(r["phase"], r["phase"]), r["status"], "-", "-"]
        else:
            frac = r.get("fraction_of_ceiling")
            cells = [r["case"], PHASE_SHORT.get(r["phase"], r["phase"]),
                     f"{_ms(f['median_s'])} ({_ms(f['min_s'])}-{_ms(f['max_s'])})",
                     f"{f['rate']:.1f} {r['unit']}", _num(frac * 100 if frac else None, ".0f")]
        for p in peers:
            e = r["peers"].get(p)
            if e is None:
                cells += ["-", "-"]
            else:
                ratio = e.get("ratio")
                mark = ""
                chk = r["check"].get(p)
                if chk is not None and chk > 1e-3:
                    mark = f" (differs {chk:.0e})"
                cells += [_ms(e["median_s"]), (_num(ratio) if ratio else "-") + mark]
        mem = r.get("memory") or {}
        extra = _mib(mem.get("rss_extra_bytes"))
        if mem.get("torch_rss_extra_bytes") is not None:
            extra += f" ({_mib(mem['torch_rss_extra_bytes'])})"
        cells.append(extra)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)


def plot(doc: Dict, path: Path) -> Optional[str]:
    """Writes the speedup plot; returns None, or why it was not written."""
    if optional_module("matplotlib") is None:
        return f"matplotlib is not installed: no plot ({INSTALL_HINT})"
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in doc["rows"] if r["fastconv"] and "torch" in r["peers"]]
    if not rows:
        return "no row has both fastconv and torch: no plot"
    colors = {"forward": "#4477aa", "backward_data": "#ee6677", "backward_weight": "#228833"}
    labels = [f"{r['case']} [{PHASE_SHORT.get(r['phase'], r['phase'])}]" for r in rows]
    ratios = [r["peers"]["torch"]["ratio"] for r in rows]
    height = max(3.0, 0.22 * len(rows) + 1.5)
    fig, ax = plt.subplots(figsize=(10, height))
    y = list(range(len(rows)))[::-1]
    ax.barh(y, ratios, color=[colors.get(r["phase"], "gray") for r in rows])
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if v in (0.2, 0.5, 2, 5) else ""))
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xlabel("speedup over torch (torch time / fastconv time, log scale)")
    m = doc["machine"]
    g = geomean(ratios)
    ax.set_title(f"fastconv vs torch {m['versions'].get('torch')}, {m['threads']} threads, "
                 f"{m['cpu']} ({m['isa']}); geomean {g:.2f}x", fontsize=9)
    from matplotlib.patches import Patch
    ax.legend(handles=[Patch(color=c, label=p) for p, c in colors.items()], fontsize=7,
              loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def write(doc: Dict, out_dir: Path) -> Dict[str, Path]:
    """Writes results.json, results.md and speedup.png into out_dir; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc["summary"] = summary(doc)
    paths = {"json": out_dir / "results.json", "md": out_dir / "results.md",
             "png": out_dir / "speedup.png"}
    why = plot(doc, paths["png"])
    if why is not None:
        doc["notes"].append(why)
        del paths["png"]
    paths["json"].write_text(json.dumps(doc, indent=1) + "\n")
    paths["md"].write_text(markdown(doc))
    return paths
