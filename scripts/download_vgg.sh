#!/usr/bin/env bash
# Fetch the VGG19 weights into this checkout's models/vgg19.params, verified by content:
# a thin wrapper around `neural-style-weights --dest models/vgg19.params` (which see, with
# --help, for the sources, --force, --source, --list and the environment overrides).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-}
if [ -z "$python" ]; then
  if [ -x "$root/.venv/bin/python" ]; then python="$root/.venv/bin/python"; else python=python3; fi
fi
cd "$root"
exec "$python" -m neural_style.cli.weights --dest "$root/models/vgg19.params" "$@"
