"""Usernames: the allowlist that makes a received name a safe folder name (docs/output.md)."""

from __future__ import annotations

import re
import unicodedata
from typing import Optional

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
