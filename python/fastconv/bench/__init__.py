"""`fastconv bench`: fastconv against its peers (torch CPU / oneDNN, SciPy, NumPy) on the shape sets
shipped with fastconv, on this machine.

    fastconv bench --quick                        # a representative subset, under 2 minutes
    fastconv bench --op conv2d --op pool          # op names, families (conv, conv_transpose,
    fastconv bench --op resnet50,mobilenetv2      #   pool, activation) or set names
    fastconv bench --threads 1 --repeats 9 --phase forward --out results/
    fastconv bench --op resnet50 --algorithm im2col_gemm,winograd   # auto vs forced algorithms
    fastconv bench --compare before/results.json after/results.json  # two runs, row by row

Writes results.md, results.json and speedup.png into --out (default ./fastconv-bench-results).
Modules: shapes (the shape-set files), peers (what each case computes per library), ceilings
(FMA peak and copy bandwidth of this machine), runner (timing), report (the three files),
compare (two runs side by side).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import report, runner, shapes
from .peers import PHASES, optional_module


def _comma_list(values):
    out = []
    for v in values or ():
        out.extend(t.strip() for t in v.split(",") if t.strip())
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true",
                   help="the cases marked quick in the shape sets (under 2 minutes)")
    p.add_argument("--op", action="append", metavar="NAME",
                   help="only these ops, families (conv, conv_transpose, pool, activation) or sets "
                        "(e.g. resnet50); repeatable or comma-separated")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for fastconv and every peer (default: all cores, %d here)"
                        % runner.available_cores())
    p.add_argument("--device", default="cpu", help="cpu (the only device of this build)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed samples per call (default 5, --quick 3)")
    p.add_argument("--phase", action="append", metavar="PHASE",
                   help="forward, backward_data, backward_weight (default: all); repeatable or "
                        "comma-separated")
    p.add_argument("--out", type=Path, default=Path("fastconv-bench-results"),
                   help="output folder (default ./fastconv-bench-results)")
    p.add_argument("--shapes", action="append", type=Path, metavar="PATH",
                   help="shape-set files or folders instead of the shipped sets")
    p.add_argument("--list", action="store_true", help="list the selected cases and exit")
    p.add_argument("--ceiling-seconds", type=float, default=0.2,
                   help="seconds for each ceiling measurement (default 0.2)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--algorithm", action="append", metavar="NAME",
                   help="also time convolutions with this algorithm forced (a column "
                        "'fastconv:NAME' beside the peers; e.g. im2col_gemm, winograd); "
                        "repeatable or comma-separated")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"),
                   help="compare two results.json files row by row (runs nothing); writes "
                        "compare.md into --out")


def _compare(before: Path, after: Path, out_dir: Path) -> int:
    from . import compare
    try:
        result = compare.compare(compare.load(before), compare.load(after))
    except (OSError, ValueError, KeyError) as e:
        print(f"fastconv bench --compare: {e}", file=sys.stderr)
        return 2
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "compare.md"
    path.write_text(compare.markdown(result, str(before), str(after)))
    print(f"{len(result['rows'])} rows matched; geometric-mean speedup "
          f"{report._num(result['geomean_speedup'], '.3f')}; x torch "
          f"{report._num(result['geomean_torch_before'], '.3f')} -> "
          f"{report._num(result['geomean_torch_after'], '.3f')}; wrote {path}", file=sys.stderr)
    return 0


def main(args: argparse.Namespace) -> int:
    err = sys.stderr
    if args.compare:
        return _compare(*args.compare, args.out)
    if args.device != "cpu":
        import fastconv
        if args.device == "cuda" and not fastconv.build_info().get("cuda"):
            print("fastconv bench: --device cuda: this fastconv was not built with CUDA; only "
                  "--device cpu is available.", file=err)
        else:
            print(f"fastconv bench: --device {args.device!r}: unknown device (cpu, cuda).",
                  file=err)
        return 2
    phases = _comma_list(args.phase) or list(PHASES)
    bad = [p for p in phases if p not in PHASES]
    if bad:
        print(f"fastconv bench: --phase {', '.join(bad)}: expected {', '.join(PHASES)}", file=err)
        return 2
    threads = args.threads or runner.available_cores()
    if threads < 1 or (args.repeats is not None and args.repeats < 1):
        print("fastconv bench: --threads and --repeats must be positive", file=err)
        return 2
    repeats = args.repeats or (3 if args.quick else 5)
    algorithms = _comma_list(args.algorithm)
    if algorithms:
        from ..functional import CONV_ALGORITHMS
        bad = [a for a in algorithms if a not in CONV_ALGORITHMS or a == "auto"]
        if bad:
            print(f"fastconv bench: --algorithm {', '.join(bad)}: expected one of "
                  f"{', '.join(a for a in CONV_ALGORITHMS if a != 'auto')}", file=err)
            return 2
    try:
        cases = shapes.select(shapes.load(args.shapes or ()), _comma_list(args.op), args.quick)
    except (ValueError, OSError) as e:
        print(f"fastconv bench: {e}", file=err)
        return 2
    if args.list:
        for c in cases:
            print(f"{c.set:16} {c.label:48} {c.describe()}")
        print(f"{len(cases)} cases")
        return 0
    if not cases:
        print("fastconv bench: no case selected", file=err)
        return 2
    missing = [m for m in ("tqdm", "matplotlib") if optional_module(m) is None]
    if missing:
        print(f"fastconv bench: {' and '.join(missing)} not installed (plain progress lines"
              f"{', no plot' if 'matplotlib' in missing else ''}); install with: "
              f"{report.INSTALL_HINT}", file=err)
    print(f"fastconv bench: {len(cases)} cases x {len(phases)} phases, {threads} threads, "
          f"{repeats} repeats; measuring ceilings first", file=err, flush=True)
    doc = runner.run(cases, phases, threads, repeats, args.ceiling_seconds,
                     progress=not args.no_progress, algorithms=algorithms)
    doc["settings"]["quick"] = args.quick
    doc["settings"]["algorithms"] = algorithms
    doc["settings"]["ops"] = _comma_list(args.op)
    paths = report.write(doc, args.out)
    s = doc["summary"]
    print(f"geometric-mean speedup over torch: {report._num(s['geomean_vs_torch'], '.3f')} over "
          f"{s['rows_vs_torch']} rows; {doc['elapsed_s']:.0f} s", file=err)
    for kind, path in paths.items():
        print(f"wrote {path}", file=err)
    for note in doc["notes"]:
        print(f"note: {note}", file=err)
    return 130 if doc.get("interrupted") else 0
