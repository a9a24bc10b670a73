#!/usr/bin/env bash
# In-place development build: compiles fastconv._C into python/fastconv/ so that
#   PYTHONPATH=python python -m pytest
# runs the working tree without `pip install`. (Delete python/fastconv/_C*.so before `pip install .`.)
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/dev -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$PWD/python/fastconv" \
  -Dpybind11_DIR="$(python -m pybind11 --cmakedir)" >/dev/null
cmake --build build/dev
