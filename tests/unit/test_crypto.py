import base64
import hashlib
import hmac
import os

import pytest

from app.infra.crypto import (
    CryptoConfigError,
    DecryptionError,
    FieldCipher,
    LookupHasher,
    generate_key_spec,
)

CONTEXT = "patient.id_number"
LOOKUP_KEY = "a-lookup-key-that-is-long-enough-0123456789"


def key_b64():
    return base64.b64encode(os.urandom(32)).decode()


K1 = f"k1:{key_b64()}"
K2 = f"k2:{key_b64()}"


def flip_char(text, index):
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


# FieldCipher


@pytest.mark.parametrize("plaintext", ["110101199003074518", "张三·买买提", "", "a" * 1000])
def test_round_trip(plaintext):
    cipher = FieldCipher(K1)
    token = cipher.encrypt(plaintext, CONTEXT)
    assert cipher.decrypt(token, CONTEXT) == plaintext


def test_token_is_versioned_ascii_and_hides_the_plaintext():
    token = FieldCipher(K1).encrypt("110101199003074518", CONTEXT)
    version, kid, body = token.split(":")
    assert (version, kid) == ("v1", "k1")
    assert token.isascii()
    assert "=" not in body
    assert "110101199003074518" not in token
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert len(raw) == 12 + len("110101199003074518") + 16


def test_each_encryption_uses_a_fresh_nonce():
    cipher = FieldCipher(K1)
    first = cipher.encrypt("13812345678", CONTEXT)
    second = cipher.encrypt("13812345678", CONTEXT)
    assert first != second
    assert cipher.decrypt(first, CONTEXT) == cipher.decrypt(second, CONTEXT)


def test_wrong_context_fails():
    cipher = FieldCipher(K1)
    token = cipher.encrypt("110101199003074518", "patient.id_number")
    with pytest.raises(DecryptionError):
        cipher.decrypt(token, "patient.phone")


@pytest.mark.parametrize("index", [8, 20, -1])
def test_tampered_token_fails(index):
    cipher = FieldCipher(K1)
    token = cipher.encrypt("110101199003074518", CONTEXT)
    with pytest.raises(DecryptionError):
        cipher.decrypt(flip_char(token, index), CONTEXT)


@pytest.mark.parametrize(
    "token",
    ["", "plain text", "v1:k1", "v2:k1:AAAA", "v1:k1:not base64!", "v1:k1:AAAA", "v1::AAAA"],
)
def test_malformed_tokens_fail(token):
    with pytest.raises(DecryptionError):
        FieldCipher(K1).decrypt(token, CONTEXT)


def test_token_from_another_key_with_the_same_kid_fails():
    token = FieldCipher(K1).encrypt("secret", CONTEXT)
    with pytest.raises(DecryptionError):
        FieldCipher(f"k1:{key_b64()}").decrypt(token, CONTEXT)


def test_unknown_kid_fails():
    token = FieldCipher(K2).encrypt("secret", CONTEXT)
    with pytest.raises(DecryptionError):
        FieldCipher(K1).decrypt(token, CONTEXT)


def test_key_rotation():
    old = FieldCipher(K1)
    token = old.encrypt("110101199003074518", CONTEXT)
    assert old.key_id_of(token) == "k1"
    assert not old.needs_rotation(token)

    new = FieldCipher(f"{K2},{K1}")
    assert new.active_kid == "k2"
    assert new.key_ids == ("k2", "k1")
    assert new.decrypt(token, CONTEXT) == "110101199003074518"
    assert new.needs_rotation(token)

    rotated = new.rotate(token, CONTEXT)
    assert new.key_id_of(rotated) == "k2"
    assert not new.needs_rotation(rotated)
    assert new.decrypt(rotated, CONTEXT) == "110101199003074518"
    assert FieldCipher(K2).decrypt(rotated, CONTEXT) == "110101199003074518"
    with pytest.raises(DecryptionError):
        old.decrypt(rotated, CONTEXT)


def test_rotate_keeps_a_token_already_under_the_active_key_and_checks_it():
    cipher = FieldCipher(K1)
    token = cipher.encrypt("secret", CONTEXT)
    assert cipher.rotate(token, CONTEXT) == token
    with pytest.raises(DecryptionError):
        cipher.rotate(token, "patient.phone")


def test_a_context_is_required():
    with pytest.raises(ValueError):
        FieldCipher(K1).encrypt("secret", "")


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "   ",
        key_b64(),
        f"k1:{key_b64()},",
        f"k1:{base64.b64encode(os.urandom(16)).decode()}",
        f"k1:{base64.b64encode(os.urandom(33)).decode()}",
        "k1:not-base64!!",
        f"k1:{key_b64()},k1:{key_b64()}",
        f"k 1:{key_b64()}",
        f"k.1:{key_b64()}",
        f"{'k' * 17}:{key_b64()}",
        f":{key_b64()}",
    ],
)
def test_malformed_key_specs_are_refused(spec):
    with pytest.raises(CryptoConfigError):
        FieldCipher(spec)


def test_key_spec_errors_do_not_reveal_the_key():
    short = base64.b64encode(os.urandom(16)).decode()
    with pytest.raises(CryptoConfigError) as caught:
        FieldCipher(f"k1:{short}")
    assert short not in str(caught.value)


def test_spec_entries_may_have_spaces_around_them():
    cipher = FieldCipher(f" {K2} , {K1} ")
    assert cipher.key_ids == ("k2", "k1")


def test_generated_key_spec_is_usable():
    spec = generate_key_spec()
    kid, _, key = spec.partition(":")
    assert kid == "k1"
    assert len(base64.b64decode(key)) == 32
    assert generate_key_spec() != spec
    assert FieldCipher(generate_key_spec("2025-01")).active_kid == "2025-01"
    with pytest.raises(CryptoConfigError):
        generate_key_spec("bad kid")


def test_repr_does_not_show_keys():
    key = key_b64()
    assert key not in repr(FieldCipher(f"k1:{key}"))


# LookupHasher


def test_lookup_digest_is_deterministic_hex_sha256():
    hasher = LookupHasher(LOOKUP_KEY)
    digest = hasher.digest("11010519491231002X", "id_number")
    assert digest == hasher.digest("11010519491231002X", "id_number")
    assert digest == LookupHasher(LOOKUP_KEY).digest("11010519491231002X", "id_number")
    assert len(digest) == 64
    int(digest, 16)


def test_lookup_digest_matches_the_documented_construction():
    expected = hmac.new(LOOKUP_KEY.encode(), b"phone\x0013812345678", hashlib.sha256).hexdigest()
    assert LookupHasher(LOOKUP_KEY).digest("13812345678", "phone") == expected


def test_lookup_digest_separates_contexts():
    hasher = LookupHasher(LOOKUP_KEY)
    assert hasher.digest("12345678", "id_number") != hasher.digest("12345678", "phone")
    # The boundary between context and value cannot be shifted.
    assert hasher.digest("b", "a") != hasher.digest("", "ab")


def test_lookup_digest_depends_on_the_key():
    other = LookupHasher("another-lookup-key-that-is-long-enough-987")
    value = "13812345678"
    assert LookupHasher(LOOKUP_KEY).digest(value, "phone") != other.digest(value, "phone")
    assert (
        LookupHasher(LOOKUP_KEY).digest(value, "phone")
        != hashlib.sha256(value.encode()).hexdigest()
    )


def test_lookup_digest_distinguishes_values():
    hasher = LookupHasher(LOOKUP_KEY)
    assert hasher.digest("13812345678", "phone") != hasher.digest("13812345679", "phone")


@pytest.mark.parametrize("key", ["", "short", "x" * 31])
def test_weak_lookup_keys_are_refused(key):
    with pytest.raises(CryptoConfigError):
        LookupHasher(key)


def test_lookup_context_is_required_and_nul_free():
    hasher = LookupHasher(LOOKUP_KEY)
    with pytest.raises(ValueError):
        hasher.digest("x", "")
    with pytest.raises(ValueError):
        hasher.digest("x", "a\x00b")
