"""Message value bytes -> a typed Frame, or a Rejection naming why not (README.md, "What it does")."""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from typing import Any, Optional

from .records import Frame, Reason, Rejection

_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# Names that are devices, not folders, on Windows: the trainer may copy the output there.
_RESERVED = {"con", "prn", "aux", "nul"} | {f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)}


def normalize_username(raw: str) -> Optional[str]:
    """NFKC, then the allowlist; None means reject (never "clean up" a hostile name)."""
    name = unicodedata.normalize("NFKC", raw)
    if not _USERNAME.fullmatch(name):
        return None
    if name.split(".")[0].lower() in _RESERVED:
        return None
    return name


def parse_message(value: Optional[bytes], max_message_bytes: int) -> Frame | Rejection:
    if value is None:
        return Rejection(Reason.INVALID_JSON, "empty (tombstone) message")
    if len(value) > max_message_bytes:
        return Rejection(Reason.MESSAGE_TOO_LARGE, f"{len(value)} bytes > {max_message_bytes}")
    try:
        doc = json.loads(value.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return Rejection(Reason.INVALID_JSON, type(exc).__name__)
    if not isinstance(doc, dict):
        return Rejection(Reason.INVALID_JSON, f"a JSON {type(doc).__name__}, not an object")
    username, image_data = doc.get("username"), doc.get("imageData")
    received = username if isinstance(username, str) else None
    timestamp = timestamp_text(doc.get("timestamp"))
    for key, field in (("username", username), ("imageData", image_data)):
        if not isinstance(field, str):
            kind = "absent" if field is None else f"a JSON {type(field).__name__}"
            return Rejection(Reason.MISSING_FIELD, f"{key} is {kind}", received, timestamp)
    name = normalize_username(username)
    if name is None:
        return Rejection(Reason.INVALID_USERNAME, "not [A-Za-z0-9][A-Za-z0-9._-]{0,63} after NFKC, or reserved", received, timestamp)
    try:
        image = base64.b64decode(image_data, validate=True)
    except (binascii.Error, ValueError) as exc:
        return Rejection(Reason.INVALID_BASE64, str(exc)[:200], received, timestamp)
    return Frame(username=name, received_username=username, timestamp=timestamp, image=image)


def timestamp_text(value: Any) -> Optional[str]:
    """The timestamp is informational and kept as given; a non-string is kept as its JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)[:200]
