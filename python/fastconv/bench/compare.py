"""`fastconv bench --compare BEFORE.json AFTER.json`: two runs of the suite side by side (e.g. two
builds of fastconv, or two machines), row by row.

Runs taken at different times see different machine states, so each row shows both what changed
in fastconv's own time and in its ratio to torch measured in the same run (torch is the yardstick
that moved with the machine). Rows are matched by case parameters and phase (not by label or
shape-set file, which may differ between runs); rows in only one run are counted, not compared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .report import PHASE_SHORT, _ms, _num
from .targets import geomean


def _key(row: Dict) -> Tuple[str, str]:
    return row["params"], row["phase"]


def _torch_ratio(row: Dict) -> Optional[float]:
    return row["peers"].get("torch", {}).get("ratio")


def _time(row: Dict) -> Optional[float]:
    return row["fastconv"]["median_s"] if row.get("fastconv") else None


def load(path: Path) -> Dict:
    with open(path) as f:
        doc = json.load(f)
    if "rows" not in doc:
        raise ValueError(f"{path}: not a results.json of fastconv bench (no 'rows')")
    return doc


def compare(before: Dict, after: Dict) -> Dict:
    """Matched rows with the speedup of fastconv's own time (before / after) and both ratios to
    torch; geometric means over the matched rows."""
    old = {_key(r): r for r in before["rows"]}
    matched: List[Dict] = []
    for row in after["rows"]:
        prev = old.get(_key(row))
        if prev is None or _time(prev) is None or _time(row) is None:
            continue
        matched.append({"set": row["set"], "case": row["case"], "phase": row["phase"],
                        "before_s": _time(prev), "after_s": _time(row),
                        "speedup": _time(prev) / _time(row),
                        "torch_before": _torch_ratio(prev), "torch_after": _torch_ratio(row)})
    return {
        "rows": matched,
        "only_before": len(old) - len(matched),
        "only_after": len(after["rows"]) - len(matched),
        "geomean_speedup": geomean(m["speedup"] for m in matched),
        "geomean_torch_before": geomean(m["torch_before"] for m in matched
                                        if m["torch_before"] is not None),
        "geomean_torch_after": geomean(m["torch_after"] for m in matched
                                       if m["torch_after"] is not None),
    }


def markdown(result: Dict, before_name: str, after_name: str) -> str:
    lines = [f"# fastconv bench: {after_name} against {before_name}", "",
             f"- {len(result['rows'])} rows matched ({result['only_before']} only before, "
             f"{result['only_after']} only after)",
             f"- geometric mean of fastconv's speedup (time before / time after): "
             f"**{_num(result['geomean_speedup'], '.3f')}**",
             f"- geometric mean of the ratio to torch (torch time / fastconv time, same run): "
             f"{_num(result['geomean_torch_before'], '.3f')} before, "
             f"**{_num(result['geomean_torch_after'], '.3f')}** after", "",
             "| set | case | phase | before ms | after ms | speedup | x torch before | "
             "x torch after |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for m in result["rows"]:
        lines.append(f"| {m['set']} | {m['case']} | {PHASE_SHORT.get(m['phase'], m['phase'])} | "
                     f"{_ms(m['before_s'])} | {_ms(m['after_s'])} | {m['speedup']:.2f} | "
                     f"{_num(m['torch_before'])} | {_num(m['torch_after'])} |")
    return "\n".join(lines) + "\n"
