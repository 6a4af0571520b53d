#!/usr/bin/env bash
# Build llama.cpp's own llama-bench and llama-server from the sources that the installed
# llama-cpp-python's sdist vendors, so danlu is compared with the same kernels it runs.
# Not part of the tests. Output: .bench/llama.cpp/build/bin/{llama-bench,llama-server}.
#
#   bash benchmarks/build_llama_cpp.sh          # about 5-10 minutes on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
VERSION=$("$PY" -c "import importlib.metadata as m; print(m.version('llama-cpp-python'))")
WORK=.bench/llama.cpp
mkdir -p .bench
if [ ! -x "$WORK/build/bin/llama-bench" ]; then
  rm -rf .bench/sdist "$WORK"
  "$PY" -m pip download --quiet --no-deps --no-binary :all: -d .bench/sdist \
    "llama-cpp-python==$VERSION"
  tar -xzf .bench/sdist/llama_cpp_python-"$VERSION".tar.gz -C .bench/sdist
  cp -r .bench/sdist/llama_cpp_python-"$VERSION"/vendor/llama.cpp "$WORK"
  cmake -S "$WORK" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF \
    -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON > /dev/null
  cmake --build "$WORK/build" --target llama-bench llama-server -j "$(nproc)" > /dev/null
fi
ls "$WORK/build/bin/llama-bench" "$WORK/build/bin/llama-server"
