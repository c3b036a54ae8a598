#!/usr/bin/env bash
# The default test suite under every Python 3.8-3.12 this machine has, each in its own venv
# with the wheel's dependencies (CPU build of MXNet, test extras); the tests import the
# source tree. Says which versions it ran and which it skipped, and why.
# Usage: .ci/pythons.sh DIST_DIR
# NEURAL_STYLE_CI_LOCK=/path/to/lock runs each suite under `flock` (a shared machine).
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dist=$(cd "${1:?usage: pythons.sh DIST_DIR}" && pwd)
wheel=$(ls "$dist"/neural_style-*.whl)
lock=${NEURAL_STYLE_CI_LOCK:-}
# The version whose suite has already run in this CI (make test's .venv) is not run twice.
already=${NEURAL_STYLE_CI_ALREADY:-}
passed=() skipped=() failed=()

find_python() {  # the first interpreter of exactly 3.$1 with venv and ssl, or nothing
  local c
  for c in "python3.$1" "$HOME"/.pyenv/versions/3."$1".*/bin/python3 /usr/bin/python3."$1"; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c "import sys, venv, ssl, ensurepip
sys.exit(sys.version_info[:2] != (3, $1))" 2>/dev/null; then
      command -v "$c"; return
    fi
  done
}

for minor in 8 9 10 11 12; do
  version="3.$minor"
  if [ "$version" = "$already" ]; then
    skipped+=("$version (its suite already ran: make test)")
    continue
  fi
  py=$(find_python "$minor")
  if [ -z "$py" ]; then
    skipped+=("$version (no interpreter with venv and ssl found)")
    continue
  fi
  echo "== Python $version: $py"
  venv=$(mktemp -d "/tmp/neural-style-py$version.XXXXXX")
  started=$SECONDS
  if ! { "$py" -m venv "$venv" &&
         "$venv/bin/python" -m pip install -q -c "$repo/constraints.txt" "$wheel[cpu,test]" 2>&1 \
           | { grep -v "^WARNING: Location .* is ignored" || true; }; }; then
    failed+=("$version (install failed)")
    rm -rf "$venv"
    continue
  fi
  echo "installed in $((SECONDS - started)) s: $("$venv/bin/python" -c 'from neural_style._mxnet import mx; import numpy; print("mxnet", mx.__version__, "numpy", numpy.__version__)')"
  run=("$venv/bin/python" -m pytest -q -p no:cacheprovider)
  if [ -n "$lock" ]; then run=(flock "$lock" "${run[@]}"); fi
  if (cd "$repo" && "${run[@]}"); then
    passed+=("$version")
  else
    failed+=("$version (tests failed)")
  fi
  echo "Python $version: $((SECONDS - started)) s"
  rm -rf "$venv"
done

echo "== Python versions: passed: ${passed[*]:-none}"
for s in "${skipped[@]+"${skipped[@]}"}"; do echo "   skipped: $s"; done
for f in "${failed[@]+"${failed[@]}"}"; do echo "   FAILED: $f"; done
[ ${#failed[@]} -eq 0 ] && [ ${#passed[@]} -gt 0 ]
