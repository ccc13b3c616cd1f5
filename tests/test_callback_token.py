import hashlib

import pytest

from klarna.callback_token import hash_token, is_token, new_token, token_matches

FIXED = "A" * 43
# sha256(b"A" * 43), computed independently with hashlib.
FIXED_HASH = "0f007385b6f9d4b7eeb2748605afe1a984a0a3bfa3f014d09e2a784ce9e5cd1a"


def test_new_tokens_are_url_safe_and_distinct():
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert len(token) == 43
        assert is_token(token)
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_hash_is_sha256_hex():
    assert hash_token(FIXED) == FIXED_HASH
    token = new_token()
    assert hash_token(token) == hashlib.sha256(token.encode()).hexdigest()
    assert hash_token(token) != token


def test_token_matches_its_own_hash_only():
    token, other = new_token(), new_token()
    stored = hash_token(token)
    assert token_matches(token, stored)
    assert not token_matches(other, stored)
    assert not token_matches(token, hash_token(other))


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "A" * 42,
        "A" * 44,
        "A" * 42 + "/",
        "A" * 42 + "=",
        "A" * 42 + ".",
        "A" * 42 + "\u00e9",
        FIXED + "\n",
        " " + FIXED[1:],
        None,
        43,
        FIXED.encode(),
    ],
)
def test_garbage_tokens_never_match_and_cannot_be_hashed(garbage):
    assert not is_token(garbage)
    assert not token_matches(garbage, FIXED_HASH)
    with pytest.raises(ValueError):
        hash_token(garbage)


@pytest.mark.parametrize("stored", [None, "", FIXED_HASH.upper(), FIXED_HASH[:-1], FIXED, 0, False])
def test_missing_or_garbage_stored_hash_never_matches(stored):
    assert not token_matches(FIXED, stored)
