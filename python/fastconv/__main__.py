"""The `fastconv` command: `fastconv info` (how it was built), `fastconv demo` (a short example),
`fastconv bench` (fastconv against torch, SciPy and NumPy on this machine; `fastconv bench -h`)."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import fastconv


def _info() -> int:
    for key, value in fastconv.build_info().items():
        print(f"{key:16} {value}")
    return 0


def _demo() -> int:
    """Runs one conv2d and its backward, checks them against the NumPy reference, times them."""
    from fastconv import reference
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 16, 32, 32), dtype=np.float32)
    w = rng.standard_normal((32, 16, 3, 3), dtype=np.float32)
    b = rng.standard_normal(32, dtype=np.float32)
    start = time.perf_counter()
    y = fastconv.conv2d(x, w, b, padding="same")
    elapsed = time.perf_counter() - start
    expected = reference.conv2d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                                padding="same")
    err = float(np.max(np.abs(y - expected)))
    flops = 2 * y.size * w[0].size
    print(f"conv2d {x.shape} * {w.shape} -> {y.shape}: {elapsed * 1e3:.2f} ms "
          f"({flops / elapsed / 1e9:.1f} GFLOP/s), max |error| vs float64 reference {err:.2e}")
    gx, gw, gb = fastconv.conv2d_backward(np.ones_like(y), x, w, padding="same")
    print(f"conv2d_backward: grad_input {gx.shape}, grad_weight {gw.shape}, grad_bias {gb.shape}")
    return 0 if err < 1e-3 else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fastconv", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="print how fastconv was built")
    sub.add_parser("demo", help="run and check a short example")
    from . import bench
    bench_parser = sub.add_parser(
        "bench", help="benchmark fastconv against its peers on this machine",
        description=bench.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_arguments(bench_parser)
    args = parser.parse_args(argv)
    if args.command == "bench":
        return bench.main(args)
    return {"info": _info, "demo": _demo}[args.command]()


if __name__ == "__main__":
    sys.exit(main())
