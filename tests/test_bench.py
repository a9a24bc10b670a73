"""`fastconv bench`: the shape-set parser, the ceilings, and a tiny end-to-end run that writes the
Markdown table, the JSON and the plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import fastconv
from fastconv import _C
from fastconv.__main__ import main as cli
from fastconv.bench import ceilings, peers, shapes, targets

SETS = sorted(shapes.default_shapes_dir().glob("*.txt"))
EXPECTED_SETS = {"resnet50", "vgg16", "mobilenetv2", "depthwise_large", "deeplab", "resnext",
                 "conv1d", "conv3d", "transposed", "pooling", "activation", "deepbench",
                 "fashion_mnist"}


def test_every_set_is_shipped():
    assert EXPECTED_SETS <= {p.stem for p in SETS}


@pytest.mark.parametrize("path", SETS, ids=[p.stem for p in SETS])
def test_every_line_of_every_set_parses(path):
    cases = shapes.parse_file(path)
    assert cases, f"{path.name} has no case"
    lines = [ln for ln in path.read_text().splitlines() if ln.split("#")[0].strip()]
    assert len(cases) == len(lines)
    for case in cases:
        assert case.set == path.stem and case.label
        # the description is itself a valid line that parses to the same case
        again = shapes.parse_line(case.describe())
        assert again.params == case.params
        # every extent positive, except the empty batches that measure per-call overhead
        assert all(s > 0 for s in case.input_shape()[1:])
        assert case.input_shape()[0] > 0 or "overhead" in case.label


def test_every_set_has_quick_cases_and_both_batch_regimes():
    cases = shapes.load()
    quick = shapes.select(cases, quick=True)
    assert 8 <= len(quick) < len(cases)
    assert {c.set for c in quick} == {c.set for c in cases}
    batches = {c.params["n"] for c in cases}
    assert 1 in batches and max(batches) >= 8


def test_case_arrays_have_the_documented_shapes():
    case = shapes.parse_line("conv2d n=8 c=64 h=56 w=56 k=64 r=3 s=3 pad=0x1 # x", "s", "f:1")
    assert case.input_shape() == (8, 64, 56, 56) and case.kernel() == (3, 3)
    assert case.params["pad"] == (0, 1) and case.params["stride"] == (1, 1)
    assert case.label == "x" and not case.quick
    pool = shapes.parse_line("max_pool2d n=1 c=2 h=9 w=9 r=3 s=3 quick")
    assert pool.params["stride"] == (3, 3) and pool.quick


@pytest.mark.parametrize("line, message", [
    ("conv2d n=8 c=64 h=56 w=56 k=64 r=3", "needs s"),
    ("conv9d n=1", "unknown op 'conv9d'"),
    ("conv2d n=8 c=64 h=56 w=56 k=64 r=3 s=3 pad=1x1x1", "pad=1x1x1: expected 1 or 2 values"),
    ("conv2d n=8 c=64 h=56 w=56 k=64 r=3 s=3 groups=5", "groups=5 must divide"),
    ("conv2d n=8 c=64 h=56 w=56 k=64 r=3 s=3 colour=red", "takes no 'colour'"),
    ("conv2d n=8 c=64 h=56 w=56 k=64 r=3 s=3 stride", "expected key=value"),
    ("relu n=-1 c=1 h=1 w=1", "n=-1: expected a non-negative integer"),
    ("relu n=1 c=0 h=1 w=1", "c must be positive"),
    ("relu n=1 n=1 c=1 h=1 w=1", "'n' given twice"),
], ids=["missing-key", "unknown-op", "too-many-values", "groups", "unknown-key", "no-value",
        "negative", "zero", "duplicate"])
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.txt"
    path.write_text("# a comment\n\nrelu n=1 c=1 h=4 w=4\n" + line + "  # label\n")
    with pytest.raises(shapes.ShapeFileError) as info:
        shapes.parse_file(path)
    text = str(info.value)
    assert text.startswith(f"{path}:4: ") and message in text, text


def test_select_by_op_family_and_set():
    cases = shapes.load()
    assert {c.op for c in shapes.select(cases, ["pool"])} <= set(shapes.POOL_OPS)
    assert {c.set for c in shapes.select(cases, ["resnet50", "relu"])} == {"resnet50",
                                                                           "activation"}
    assert all(c.op == "conv_transpose2d" for c in shapes.select(cases, ["conv_transpose2d"]))
    with pytest.raises(ValueError, match="--op 'nope'"):
        shapes.select(cases, ["nope"])


def test_ceilings_are_positive():
    for dtype in ("float32", np.float64):
        peak = _C.measure_fma_peak(dtype, 1, 0.02)
        assert peak["gflops"] > 0 and peak["threads"] == 1 and "fma_chains" in peak["kernel"]
    bw = _C.measure_copy_bandwidth(1 << 20, 2, 0.02)
    assert bw["gbps"] > 0 and bw["repeats"] >= 3
    c = ceilings.measure(1, seconds=0.03, copy_bytes=1 << 20)
    assert c["fma_peak_f32_gflops"] > 0 and c["copy_gbps"] > 0
    with pytest.raises(TypeError, match="float32 or float64"):
        _C.measure_fma_peak("int32", 1, 0.01)
    with pytest.raises(ValueError, match="threads"):
        _C.measure_fma_peak("float32", 0, 0.01)


@pytest.mark.torch
def test_peers_compute_what_fastconv_computes():
    """Every peer of a few representative cases agrees with fastconv (the bench also records this
    check in each row)."""
    torch = pytest.importorskip("torch")
    lines = ["conv2d n=2 c=3 h=9 w=8 k=4 r=3 s=2 stride=2x1 pad=1x0 dil=1x2",
             "conv2d n=2 c=6 h=7 w=7 k=6 r=3 s=3 pad=1 groups=6",
             "conv2d n=2 c=5 h=4 w=4 k=3 r=1 s=1",
             "conv1d n=2 c=1 w=40 k=1 s=5 pad=2",
             "conv_transpose2d n=2 c=4 h=5 w=5 k=6 r=4 s=4 stride=2 pad=1 opad=1",
             "conv_transpose1d n=2 c=4 w=7 k=2 s=3 stride=2 groups=2",
             "conv3d n=1 c=2 d=4 h=5 w=5 k=3 t=3 r=3 s=3 pad=1",
             "relu n=2 c=3 h=5 w=5", "sigmoid n=1 c=2 h=3 w=3", "gelu n=1 c=2 h=3 w=3"]
    lines += [ln for ln in ("max_pool2d n=2 c=3 h=9 w=9 r=3 s=3 stride=2 pad=1",
                            "avg_pool2d n=2 c=3 h=8 w=8 r=2 s=2",
                            "adaptive_avg_pool2d n=2 c=3 h=7 w=7 out=1x1")
              if hasattr(fastconv, ln.split()[0])]
    from fastconv.bench.runner import _rel_diff
    checked = set()
    for line in lines:
        case = shapes.parse_line(line)
        for phase in peers.PHASES:
            w = peers.build(case, phase, np.random.default_rng(0), torch)
            if w.skip:
                continue
            ours = w.fastconv()
            for name, fn in w.peers.items():
                assert _rel_diff(fn(), ours) < 1e-4, f"{line} {phase} {name}"
                checked.add(name)
    assert {"torch", "numpy"} <= checked


def test_bench_end_to_end(tmp_path):
    """A tiny run through the command line: two small cases, one repeat, the three files."""
    shape_file = tmp_path / "tiny.txt"
    shape_file.write_text("# tiny\nconv2d n=1 c=4 h=8 w=8 k=4 r=3 s=3 pad=1 quick # tiny conv\n"
                          "relu n=1 c=2 h=8 w=8 quick # tiny relu\n"
                          "conv1d n=1 c=8 w=32 k=8 s=3  # not quick\n")
    out = tmp_path / "out"
    rc = cli(["bench", "--quick", "--shapes", str(shape_file), "--repeats", "1", "--threads", "1",
              "--out", str(out), "--ceiling-seconds", "0.03", "--no-progress"])
    assert rc == 0
    doc = json.loads((out / "results.json").read_text())
    m = doc["machine"]
    for key in ("cpu", "cores", "isa", "versions", "commit", "threads", "date", "build_info"):
        assert key in m
    assert m["threads"] == 1 and m["versions"]["fastconv"] == fastconv.__version__
    assert doc["ceilings"]["fma_peak_f32_gflops"] > 0 and doc["ceilings"]["copy_gbps"] > 0
    # conv: three phases; relu: forward and backward_data (no weight)
    assert [(r["case"], r["phase"]) for r in doc["rows"]] == [
        ("tiny conv", "forward"), ("tiny conv", "backward_data"),
        ("tiny conv", "backward_weight"), ("tiny relu", "forward"), ("tiny relu", "backward_data")]
    for r in doc["rows"]:
        assert r["status"] == "ok" and r["work"] > 0
        f = r["fastconv"]
        assert f["median_s"] > 0 and f["rate"] > 0 and r["fraction_of_ceiling"] > 0
        assert r["unit"] == ("GFLOP/s" if r["op"] == "conv2d" else "GB/s")
        assert "numpy_extra_bytes" in r["memory"]
        for name, e in r["peers"].items():
            assert e["ratio"] > 0 and r["check"][name] < 1e-4
    try:
        import torch  # noqa: F401
        assert all("torch" in r["peers"] for r in doc["rows"])
    except ImportError:
        pass
    md = (out / "results.md").read_text()
    assert "| tiny conv | fwd |" in md and "geometric-mean speedup" in md
    assert "## Targets" in md and "every row >= 0.9x torch" in md
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert any("matplotlib is not installed" in n for n in doc["notes"])
    else:
        assert (out / "speedup.png").read_bytes()[:4] == b"\x89PNG"


def test_bench_refuses_cuda_and_bad_options(capsys):
    assert cli(["bench", "--device", "cuda"]) == 2
    assert "not built with CUDA" in capsys.readouterr().err
    assert cli(["bench", "--phase", "sideways"]) == 2
    assert "--phase sideways" in capsys.readouterr().err
    assert cli(["bench", "--op", "nope", "--list"]) == 2
    assert cli(["bench", "--quick", "--list", "--op", "pool"]) == 0
    assert "max_pool" in capsys.readouterr().out
    assert cli(["bench", "--algorithm", "fft"]) == 2
    assert "--algorithm fft: expected one of im2col_gemm" in capsys.readouterr().err


def test_forced_algorithms_are_timed_beside_auto():
    """--algorithm: each forced algorithm that can compute the pass is a 'fastconv:<name>' peer
    on the same data (checked against auto); one that cannot is noted."""
    from fastconv.bench import runner
    case = shapes.parse_line("conv2d n=1 c=4 h=8 w=8 k=4 r=3 s=3 pad=1  # tiny")
    row = runner.run_case(case, "forward", 1, None, 0, False, ("im2col_gemm", "depthwise"))
    assert row["status"] == "ok" and "fastconv:im2col_gemm" in row["peers"]
    assert row["check"]["fastconv:im2col_gemm"] < 1e-5
    assert "fastconv:depthwise" not in row["peers"]
    assert "depthwise cannot compute this pass" in row["notes"]


def test_peers_with_their_own_thread_pool_are_timed_apart(monkeypatch):
    """NumPy's BLAS peer (1x1 convs) is marked as keeping its own spinning pool, and its samples
    are taken after every interleaved round of the others."""
    from fastconv.bench import runner
    case = shapes.parse_line("conv2d n=2 c=8 h=5 w=5 k=4 r=1 s=1  # 1x1")
    w = peers.build(case, "forward", np.random.default_rng(0), None)
    assert w.own_pool == {"numpy"}
    monkeypatch.setattr(runner, "POOL_SPIN_S", 0.0)
    order = []
    fns = {name: (lambda name=name: order.append(name)) for name in ("fastconv", "numpy", "b")}
    times = runner.time_interleaved(fns, 3, own_pool={"numpy"})
    assert set(times) == set(fns) and all(t["samples"] == 3 for t in times.values())
    timed = order[6:]  # after two warm-up calls each (short calls)
    assert timed[-3 * times["numpy"]["inner"]:] == ["numpy"] * 3 * times["numpy"]["inner"]
    assert "numpy" not in timed[:-3 * times["numpy"]["inner"]]


def _row(params, phase, ratio, seconds, work, unit="GFLOP/s", fraction=None, set_="s"):
    return {"case": params, "params": params, "phase": phase, "set": set_, "unit": unit,
            "work": work, "fastconv": {"median_s": seconds},
            "peers": {"torch": {"ratio": ratio}}, "fraction_of_ceiling": fraction}


def test_targets_say_which_rows_miss_them():
    ceil = {"copy_gbps": 20.0, "fma_peak_f32_gflops": 200.0}
    dense = "conv2d n=8 c=64 h=56 w=56 k=64 r=3 s=3 pad=1"
    pointwise = "conv2d n=8 c=64 h=56 w=56 k=64 r=1 s=1"
    # depthwise 3x3: x and y 8*64*56*56 floats, w 64*9: 12.85 MB, bandwidth-bound
    depthwise = "conv2d n=8 c=64 h=56 w=56 k=64 r=3 s=3 pad=1 groups=64"
    doc = {"ceilings": ceil, "rows": [
        _row(dense, "forward", 2.0, 1e-3, 3.7e9, fraction=0.85),
        _row(pointwise, "forward", 1.1, 1e-3, 4.1e8, fraction=0.4),
        _row(depthwise, "forward", 3.0, 12.85e6 / 20e9 / 0.5, 3.7e7),  # at 50% of bandwidth
    ]}
    by_name = {e["target"]: e for e in targets.evaluate(doc)}
    assert by_name["every row >= 0.9x torch"]["met"] is True
    assert by_name["dense convolutions with >= 1 GFLOP at >= 80% of the FMA peak"]["rows"] == 1
    one_by_one = by_name["1x1 convolutions >= 1.3x torch"]
    assert one_by_one["met"] is False and one_by_one["worst"]["value"] == 1.1
    dw = by_name["depthwise convolutions at >= 70% of the roofline (copy bandwidth or FMA peak)"]
    assert dw["rows"] == 1 and dw["met"] is False
    assert dw["worst"]["value"] == pytest.approx(0.5, rel=1e-3)
    assert by_name["pooling at >= 70% of the copy bandwidth"]["rows"] == 0
    md = "\n".join(targets.markdown_lines(targets.evaluate(doc)))
    assert "| 1x1 convolutions >= 1.3x torch | 1 | 0 | **no** |" in md


def test_compare_matches_rows_by_parameters_and_phase(tmp_path):
    """--compare: rows of two runs matched by case parameters and phase, whatever their labels;
    fastconv's own speedup and both ratios to torch."""
    def doc(rows):
        return {"rows": [{"set": s, "case": s, "params": params, "phase": phase,
                          "fastconv": {"median_s": t}, "peers": {"torch": {"ratio": r}}}
                         for s, params, phase, t, r in rows]}
    before = doc([("a", "p1", "forward", 2.0, 1.0), ("a", "p1", "backward_data", 1.0, 1.0),
                  ("a", "p2", "forward", 1.0, 1.0)])
    after = doc([("b", "p1", "forward", 1.0, 2.0), ("b", "p1", "backward_data", 2.0, 0.5),
                 ("b", "p3", "forward", 1.0, 1.0)])
    for name, d in (("before", before), ("after", after)):
        (tmp_path / f"{name}.json").write_text(json.dumps(d))
    assert cli(["bench", "--compare", str(tmp_path / "before.json"), str(tmp_path / "after.json"),
                "--out", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "compare.md").read_text()
    assert "2 rows matched (1 only before, 1 only after)" in text
    assert "| b | b | fwd | 2000.00 | 1000.00 | 2.00 | 1.00 | 2.00 |" in text
    assert "**1.000**" in text  # geomean of the speedups 2.0 and 0.5
    assert cli(["bench", "--compare", str(tmp_path / "missing.json"),
                str(tmp_path / "after.json")]) == 2


def test_depthwise_roofline_is_the_longer_of_bytes_and_flops():
    """A depthwise row's % ceil (set by the runner) and its target use the roofline: a 3x3
    depthwise convolution is bound by memory, a 31x31 one by the FMAs."""
    ceil = {"copy_gbps": 20.0, "fma_peak_f32_gflops": 200.0}
    small = shapes.parse_line("conv2d n=1 c=8 h=12 w=12 k=8 r=3 s=3 pad=1 groups=8")
    flops = 2 * 8 * 144 * 9
    assert targets.roofline_seconds(small, flops, ceil) == pytest.approx(
        4 * (2 * 8 * 144 + 8 * 9) / 20e9)
    large = shapes.parse_line("conv2d n=1 c=8 h=12 w=12 k=8 r=31 s=31 pad=15 groups=8")
    flops = 2 * 8 * 144 * 961
    assert targets.roofline_seconds(large, flops, ceil) == pytest.approx(flops / 200e9)
