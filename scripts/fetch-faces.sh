#!/usr/bin/env bash
# Idempotent: fetches the real photos that the tests, the demo and benchmarks/gates.py build their
# faces from, and caches them in FACES_DIR (default .local/faces):
#   face_recognition/*.jpg|png  from PyPI's face_recognition 1.3.0 sdist (tests/test_images)
#   face-api/sample1..6.jpg     from npm's @vladmandic/face-api 1.7.15 (demo/, 1920 px group photos)
# Only the registries' ordinary clients are used: `pip download` and `npm pack`.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "fetch-faces: $*" >&2; exit 1; }

FACES_DIR=${FACES_DIR:-.local/faces}
PYTHON=${PYTHON:-.venv/bin/python}  # any Python with pip
SDIST=face_recognition-1.3.0.tar.gz
NPM_TGZ=vladmandic-face-api-1.7.15.tgz
mkdir -p "$FACES_DIR"
FACES_DIR=$(cd "$FACES_DIR" && pwd)

if [ ! -s "$FACES_DIR/$SDIST" ]; then
  "$PYTHON" -m pip --version >/dev/null 2>&1 || die "no pip for '$PYTHON' (set PYTHON=...)"
  echo "fetch-faces: downloading $SDIST from PyPI"
  "$PYTHON" -m pip download -q --no-binary :all: --no-deps --dest "$FACES_DIR" face_recognition==1.3.0
fi
if [ ! -s "$FACES_DIR/$NPM_TGZ" ]; then
  command -v npm >/dev/null || die "npm is required to fetch @vladmandic/face-api (apt-get install npm)"
  echo "fetch-faces: downloading @vladmandic/face-api@1.7.15 from npm"
  (cd "$FACES_DIR" && npm pack --silent @vladmandic/face-api@1.7.15 >/dev/null)
fi
[ -s "$FACES_DIR/$SDIST" ] || die "$SDIST is missing after the download"
[ -s "$FACES_DIR/$NPM_TGZ" ] || die "$NPM_TGZ is missing after the download"

# Extract into a temporary folder and move into place, so an interrupted run never leaves half a set.
extract() {  # extract ARCHIVE MEMBER_DIR TARGET PATTERN...
  local archive=$1 member=$2 target=$3 tmp
  shift 3
  [ -d "$FACES_DIR/$target" ] && return 0
  tmp=$(mktemp -d "$FACES_DIR/.extract.XXXXXX")
  tar -xzf "$FACES_DIR/$archive" -C "$tmp" --wildcards "${@/#/$member/}"
  mkdir -p "$tmp/out"
  mv "$tmp/$member"/* "$tmp/out/"
  mv "$tmp/out" "$FACES_DIR/$target"
  rm -rf "$tmp"
}
extract "$SDIST" face_recognition-1.3.0/tests/test_images face_recognition '*.jpg' '*.png'
extract "$NPM_TGZ" package/demo face-api 'sample*.jpg'

n_fr=$(find "$FACES_DIR/face_recognition" -maxdepth 1 -type f \( -name '*.jpg' -o -name '*.png' \) | wc -l)
n_fa=$(find "$FACES_DIR/face-api" -maxdepth 1 -type f -name 'sample*.jpg' | wc -l)
[ "$n_fr" -eq 7 ] || die "expected 7 photos in $FACES_DIR/face_recognition, found $n_fr"
[ "$n_fa" -eq 6 ] || die "expected 6 photos in $FACES_DIR/face-api, found $n_fa"
echo "fetch-faces: $n_fr + $n_fa photos in $FACES_DIR"
