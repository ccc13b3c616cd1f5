import pytest
from cryptography.fernet import Fernet

from klarna.secret_box import PREFIX, SecretBox, SecretBoxError, generate_key


def test_round_trip_and_no_cleartext():
    box = SecretBox([generate_key()])
    stored = box.encrypt("K123456_api-password")
    assert stored.startswith(PREFIX)
    assert "K123456" not in stored and "password" not in stored
    assert box.decrypt(stored) == "K123456_api-password"


def test_each_encryption_is_randomised():
    box = SecretBox([generate_key()])
    assert box.encrypt("same") != box.encrypt("same")


def test_rotation_old_keys_decrypt_new_writes_use_newest():
    old, new = generate_key(), generate_key()
    stored_old = SecretBox([old]).encrypt("secret")
    rotated_box = SecretBox([new, old])
    assert rotated_box.decrypt(stored_old) == "secret"
    fresh = rotated_box.encrypt("secret")
    # Written with the newest key: readable with it alone, not with the old one.
    assert SecretBox([new]).decrypt(fresh) == "secret"
    with pytest.raises(SecretBoxError):
        SecretBox([old]).decrypt(fresh)
    rotated = rotated_box.rotate(stored_old)
    assert SecretBox([new]).decrypt(rotated) == "secret"


def test_from_setting_accepts_commas_and_spaces():
    keys = [generate_key(), generate_key()]
    box = SecretBox.from_setting(f" {keys[0]} ,\n{keys[1]} ")
    assert SecretBox([keys[1]]).decrypt(SecretBox([keys[1]]).encrypt("x")) == "x"
    assert box.decrypt(SecretBox([keys[1]]).encrypt("y")) == "y"


@pytest.mark.parametrize("setting", [None, "", "  ,  "])
def test_missing_key_is_a_clear_error(setting):
    with pytest.raises(SecretBoxError, match="no encryption key"):
        SecretBox.from_setting(setting)


def test_invalid_key_is_a_clear_error_without_echoing_it():
    with pytest.raises(SecretBoxError, match="not a valid Fernet key") as info:
        SecretBox(["not-a-key-but-a-secret"])
    assert "not-a-key-but-a-secret" not in str(info.value)


def test_tampered_or_foreign_value_is_refused():
    box = SecretBox([generate_key()])
    stored = box.encrypt("secret")
    with pytest.raises(SecretBoxError, match="cannot be decrypted"):
        box.decrypt(stored[:-4] + "AAAA")
    with pytest.raises(SecretBoxError, match="not an encrypted secret"):
        box.decrypt("plain-text")
    with pytest.raises(SecretBoxError, match="cannot be decrypted"):
        box.decrypt(PREFIX + Fernet(generate_key().encode()).encrypt(b"x").decode())
    with pytest.raises(SecretBoxError):
        box.encrypt(b"bytes")
