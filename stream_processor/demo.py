"""The demo's built-in frames: `python -m stream_processor.demo FILE.jsonl` writes messages of four
users made from scikit-image's real faces (one-face, two-face and no-face frames, PNG and JPEG),
plus a few invalid messages, so the demo shows every path: crops, rejections, dead letters."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .samples import encode, make_frame, message

USERS = ("ada", "grace", "linus", "margaret")
KINDS = ("one", "one", "one", "one", "two", "none")  # about 2/3 of the frames hold one face
INVALID = (
    b"this line is not JSON",
    json.dumps({"username": "../../etc", "imageData": "AAAA"}).encode(),
    json.dumps({"username": "ada", "imageData": "not base64!"}).encode(),
    json.dumps({"imageData": "AAAA"}).encode(),
)


def demo_messages(frames_per_user: int = 12, seed: int = 2026) -> list[bytes]:
    out = []
    for i in range(frames_per_user * len(USERS)):
        frame = make_frame(KINDS[i % len(KINDS)], seed + i)
        out.append(message(USERS[i % len(USERS)], encode(frame.image, "jpeg" if i % 2 else "png")))
    return out + list(INVALID)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m stream_processor.demo FILE.jsonl", file=sys.stderr)
        return 2
    lines = demo_messages()
    Path(argv[0]).write_bytes(b"\n".join(lines) + b"\n")
    print(f"demo: wrote {len(lines)} messages of {len(USERS)} users to {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
