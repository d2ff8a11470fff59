import pytest

from stream_processor.frames.usernames import normalize_username

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", ["../x", "/etc", "/etc/passwd", "．．／x", "a\x00b", "x" * 300, ".hidden",
                                  "_manifest", "", "a/b", "a\\b", "..", "con", "NUL", "com1.txt", "al ice",
                                  "-dash", "é" * 3, "\u202eevil", "x" * 65])
def test_hostile_usernames_are_rejected(name):
    assert normalize_username(name) is None


@pytest.mark.parametrize("raw, normal", [("alice", "alice"), ("Bob_1.x-y", "Bob_1.x-y"),
                                         ("ａｌｉｃｅ", "alice"), ("x" * 64, "x" * 64)])
def test_usernames_are_nfkc_normalised(raw, normal):
    assert normalize_username(raw) == normal
