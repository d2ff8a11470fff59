"""The demo's built-in frames: `python -m stream_processor.demo FILE.jsonl` writes messages of four
users, each one real person (samples.person_frames: several poses, lights and moments, as a
registration video gives them), mixed with what a real stream also holds: a second person in
view, nobody in view, a blurred frame and a dark one (PNG and JPEG), plus a few invalid messages,
so the demo shows every path: crops, rejections with their reasons, dead letters."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2

from .samples import SampleFrame, encode, exposed, make_frame, message, person_frames

USERS = {"ada": "sample3-1", "grace": "sample6-2", "linus": "obama", "margaret": "biden"}
# The frames of each user, in order: mostly their own face, then one of each kind of trouble.
SCRIPT = ("one", "one", "one", "two", "one", "one", "blurred", "one", "none", "one", "dark", "one")
INVALID = (
    b"this line is not JSON",
    json.dumps({"username": "../../etc", "imageData": "AAAA"}).encode(),
    json.dumps({"username": "ada", "imageData": "not base64!"}).encode(),
    json.dumps({"imageData": "AAAA"}).encode(),
)


def _image(what: str, own: SampleFrame, seed: int) -> SampleFrame:
    if what == "two" or what == "none":
        return make_frame(what, seed)
    if what == "blurred":
        return SampleFrame(cv2.GaussianBlur(own.image, (0, 0), 0.03 * own.faces[0].w), "one", own.faces, own.sources, own.people)
    if what == "dark":
        return SampleFrame(exposed(own.image, 0.2, noise=3.0, seed=seed), "one", own.faces, own.sources, own.people)
    return own


def demo_messages(frames_per_user: int = 12, seed: int = 2026) -> list[bytes]:
    """`frames_per_user` messages per user, the users interleaved as concurrent streams are."""
    per_user = []
    for k, (user, person) in enumerate(USERS.items()):
        own = person_frames(person, frames_per_user, seed + k)
        frames = [_image(SCRIPT[i % len(SCRIPT)], f, seed + 100 * k + i) for i, f in enumerate(own)]
        per_user.append([(user, f) for f in frames])
    out = []
    for i, row in enumerate(zip(*per_user)):
        for j, (user, frame) in enumerate(row):
            out.append(message(user, encode(frame.image, "jpeg" if (i + j) % 2 else "png")))
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
