"""SIMD dispatch: FASTCONV_ISA caps the instruction set, never raises it, and every path computes
the same convolution (to rounding). CI also runs the whole suite under each path."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import fastconv

ORDER = ["generic", "avx2", "avx512"]
_PROBE = """
import json, numpy as np, fastconv
rng = np.random.default_rng(0)
x = rng.standard_normal((2, 37, 11, 13)).astype(np.float32)
w = rng.standard_normal((29, 37, 3, 3)).astype(np.float32)
y = fastconv.conv2d(x, w, padding=1)
info = fastconv.build_info()
print(json.dumps(dict(isa=info["isa"], gemm=info["gemm_f32"], y=y.ravel()[::97].tolist())))
"""


def _probe(isa):
    env = dict(os.environ, FASTCONV_ISA=isa)
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return json.loads(out)


def test_build_info_names_the_path():
    info = fastconv.build_info()
    assert info["isa"] in ORDER and info["isa_detected"] in ORDER
    assert ORDER.index(info["isa"]) <= ORDER.index(info["isa_detected"])
    assert info["gemm_f32"].startswith("f32_gemm_") and info["gemm_f32"].endswith("__" + info["isa"])


@pytest.mark.parametrize("isa", ORDER)
def test_isa_cap_is_honoured_and_paths_agree(isa):
    detected = fastconv.build_info()["isa_detected"]
    got = _probe(isa)
    expected_isa = ORDER[min(ORDER.index(isa), ORDER.index(detected))]
    assert got["isa"] == expected_isa
    assert got["gemm"].endswith("__" + expected_isa)
    baseline = _probe("generic")["y"]
    # Different ISAs sum in different orders (and FMA rounds once): equal to float32 rounding of
    # a 333-term sum of products of O(1) values, |error| <= 333 * 2^-23 * ~10 << 1e-3.
    assert got["y"] == pytest.approx(baseline, rel=1e-3, abs=1e-3)


def test_unknown_isa_value_falls_back_to_detection():
    got = _probe("sse9")
    assert got["isa"] == fastconv.build_info()["isa_detected"]
