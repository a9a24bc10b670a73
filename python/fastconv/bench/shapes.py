"""Shape sets of `fastconv bench`: text files, one case per line (format documented at the top of
every file in benchmarks/shapes/, installed into the wheel as fastconv/bench/shapes/).

    conv2d n=8 c=64 h=56 w=56 k=64 r=3 s=3 pad=1 quick  # resnet50 res2 3x3 b8
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

CONV_OPS = ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
            "conv_transpose3d")
POOL_OPS = ("max_pool2d", "avg_pool2d", "adaptive_avg_pool2d")
ACTIVATION_OPS = ("relu", "sigmoid", "gelu")
OPS = CONV_OPS + POOL_OPS + ACTIVATION_OPS
FAMILIES = {"conv": tuple(o for o in CONV_OPS if not o.startswith("conv_transpose")),
            "conv_transpose": tuple(o for o in CONV_OPS if o.startswith("conv_transpose")),
            "pool": POOL_OPS, "activation": ACTIVATION_OPS}

_SPATIAL = {1: ("w",), 2: ("h", "w"), 3: ("d", "h", "w")}
_KERNEL = {1: ("s",), 2: ("r", "s"), 3: ("t", "r", "s")}
_TUPLE_KEYS = ("stride", "pad", "dil", "opad", "out")


class ShapeFileError(ValueError):
    """A line of a shape file that cannot be parsed; the message names the file and line."""


@dataclass(frozen=True)
class Case:
    op: str
    params: Dict[str, object]   # ints, and tuples (one per spatial dimension) for _TUPLE_KEYS
    label: str
    set: str = ""
    quick: bool = False
    source: str = ""            # file:line

    @property
    def ndim(self) -> int:
        return 2 if self.op in POOL_OPS + ACTIVATION_OPS else int(self.op[-2])

    @property
    def family(self) -> str:
        return next(f for f, ops in FAMILIES.items() if self.op in ops)

    def input_shape(self) -> Tuple[int, ...]:
        p = self.params
        return (p["n"], p["c"]) + tuple(p[k] for k in _SPATIAL[self.ndim])

    def kernel(self) -> Tuple[int, ...]:
        return tuple(self.params[k] for k in _KERNEL[self.ndim])

    def describe(self) -> str:
        """The case's parameters in the shape-file syntax (without label and flags)."""
        parts = [self.op]
        for key, value in self.params.items():
            if isinstance(value, tuple):
                value = str(value[0]) if len(set(value)) == 1 else "x".join(map(str, value))
            parts.append(f"{key}={value}")
        return " ".join(parts)


def _required(op: str) -> Tuple[Tuple[str, ...], Dict[str, object]]:
    """Keys a case of op must have, and the optional keys with their defaults."""
    if op in CONV_OPS:
        nd = int(op[-2])
        optional = {"stride": 1, "pad": 0, "dil": 1, "groups": 1}
        if op.startswith("conv_transpose"):
            optional["opad"] = 0
        return ("n", "c", "k") + _SPATIAL[nd] + _KERNEL[nd], optional
    if op in ("max_pool2d", "avg_pool2d"):
        optional = {"stride": None, "pad": 0}
        if op == "max_pool2d":
            optional["dil"] = 1
        return ("n", "c", "h", "w", "r", "s"), optional
    if op == "adaptive_avg_pool2d":
        return ("n", "c", "h", "w", "out"), {}
    return ("n", "c", "h", "w"), {}


def _value(key: str, text: str, nd: int) -> object:
    if not re.fullmatch(r"\d+(x\d+)*", text):
        raise ValueError(f"{key}={text}: expected a non-negative integer, or one per dimension "
                         f"joined by x")
    values = tuple(int(v) for v in text.split("x"))
    if key not in _TUPLE_KEYS:
        if len(values) != 1:
            raise ValueError(f"{key}={text}: expected one integer")
        return values[0]
    if len(values) == 1:
        values = values * nd
    if len(values) != nd:
        raise ValueError(f"{key}={text}: expected 1 or {nd} values")
    return values


def parse_line(text: str, set_name: str = "", source: str = "") -> Optional[Case]:
    """Parses one line; None for blank and comment lines. Raises ValueError (without location)."""
    body, _, comment = text.partition("#")
    tokens = body.split()
    if not tokens:
        return None
    op, rest = tokens[0], tokens[1:]
    if op not in OPS:
        raise ValueError(f"unknown op {op!r} (known: {', '.join(OPS)})")
    nd = 2 if op in POOL_OPS + ACTIVATION_OPS else int(op[-2])
    required, optional = _required(op)
    params: Dict[str, object] = {}
    quick = False
    for token in rest:
        if token == "quick":
            quick = True
            continue
        key, eq, value = token.partition("=")
        if not eq:
            raise ValueError(f"{token!r}: expected key=value or the flag 'quick'")
        if key not in required and key not in optional:
            raise ValueError(f"{op} takes no {key!r} (keys: {', '.join(required + tuple(optional))})")
        if key in params:
            raise ValueError(f"{key!r} given twice")
        params[key] = _value(key, value, nd)
    missing = [k for k in required if k not in params]
    if missing:
        raise ValueError(f"{op} needs {', '.join(missing)}")
    for key, default in optional.items():
        if key not in params:
            params[key] = None if default is None else _value(key, str(default), nd)
    if op in ("max_pool2d", "avg_pool2d") and params["stride"] is None:
        params["stride"] = (params["r"], params["s"])
    # n=0 is allowed: an empty batch does no work, so its time is the per-call overhead.
    for key in ("c", "k", "groups") + _SPATIAL[nd] + _KERNEL[nd]:
        if key in params and params[key] == 0:
            raise ValueError(f"{key} must be positive")
    for key in ("stride", "dil", "out"):
        if key in params and 0 in params[key]:
            raise ValueError(f"{key} must be positive")
    if op in CONV_OPS and (params["c"] % params["groups"] or params["k"] % params["groups"]):
        raise ValueError(f"groups={params['groups']} must divide c={params['c']} and "
                         f"k={params['k']}")
    ordered = {k: params[k] for k in required + tuple(optional)}
    label = comment.strip() or " ".join(tokens)
    return Case(op, ordered, label, set_name, quick, source)


def parse_file(path) -> List[Case]:
    """Every case of a shape file; a bad line raises ShapeFileError naming the file and line."""
    path = Path(path)
    cases = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        source = f"{path}:{number}"
        try:
            case = parse_line(line, path.stem, f"{path.name}:{number}")
        except ValueError as e:
            raise ShapeFileError(f"{source}: {e}\n    {line.strip()}") from None
        if case is not None:
            cases.append(case)
    return cases


def default_shapes_dir() -> Path:
    """The installed shape sets (fastconv/bench/shapes/), or benchmarks/shapes/ of a source tree."""
    here = Path(__file__).resolve().parent
    installed = here / "shapes"
    if installed.is_dir() and any(installed.glob("*.txt")):
        return installed
    source_tree = here.parents[2] / "benchmarks" / "shapes"
    if source_tree.is_dir():
        return source_tree
    raise FileNotFoundError(f"no shape sets found in {installed} or {source_tree}")


def load(paths: Sequence = ()) -> List[Case]:
    """Cases of the given files or folders (default: every set shipped with fastconv)."""
    paths = [Path(p) for p in paths] or [default_shapes_dir()]
    cases: List[Case] = []
    for path in paths:
        files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
        for f in files:
            cases.extend(parse_file(f))
    return cases


def select(cases: Sequence[Case], ops: Sequence[str] = (), quick: bool = False) -> List[Case]:
    """Cases matching any of `ops` (an op name, a family conv / conv_transpose / pool /
    activation, or a set name such as resnet50), the quick ones only if `quick`."""
    sets = {c.set for c in cases}
    for token in ops:
        if token not in OPS and token not in FAMILIES and token not in sets:
            raise ValueError(f"--op {token!r}: not an op, family or set (ops: {', '.join(OPS)}; "
                             f"families: {', '.join(FAMILIES)}; sets: {', '.join(sorted(sets))})")

    def wanted(c: Case) -> bool:
        return not ops or any(t in (c.op, c.family, c.set) for t in ops)

    return [c for c in cases if wanted(c) and (c.quick or not quick)]


def conv_output_size(size: int, k: int, stride: int, pad: int, dil: int) -> int:
    return (size + 2 * pad - dil * (k - 1) - 1) // stride + 1


def numel(shape) -> int:
    return int(math.prod(shape))
