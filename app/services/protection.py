"""Identity data at rest: encrypt, decrypt and find values through keyed hashes."""

from flask import current_app

from app.crypto import FieldCipher, LookupHasher


def _cipher() -> FieldCipher:
    cipher = current_app.extensions.get("field_cipher")
    if cipher is None:
        cipher = FieldCipher(current_app.config["FIELD_ENCRYPTION_KEYS"])
        current_app.extensions["field_cipher"] = cipher
    return cipher


def _hasher() -> LookupHasher:
    hasher = current_app.extensions.get("lookup_hasher")
    if hasher is None:
        hasher = LookupHasher(current_app.config["LOOKUP_HASH_KEY"])
        current_app.extensions["lookup_hasher"] = hasher
    return hasher


def seal(value: str, context: str) -> str:
    """``value`` encrypted for the column named by ``context`` (e.g. "patient.id_number")."""
    return _cipher().encrypt(value, context)


def unseal(token: str, context: str) -> str:
    """The plaintext of a sealed column value."""
    return _cipher().decrypt(token, context)


def lookup_hash(value: str, kind: str) -> str:
    """The keyed hash by which a sealed value of ``kind`` ("id_number", "phone") is found."""
    return _hasher().digest(value, kind)
