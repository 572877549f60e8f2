"""Identity data at rest: encrypt, decrypt and find values through keyed hashes."""

from app.extensions import per_app
from app.infra.crypto import FieldCipher, LookupHasher


def _cipher() -> FieldCipher:
    return per_app("field_cipher", lambda config: FieldCipher(config["FIELD_ENCRYPTION_KEYS"]))


def _hasher() -> LookupHasher:
    return per_app("lookup_hasher", lambda config: LookupHasher(config["LOOKUP_HASH_KEY"]))


def seal(value: str, context: str) -> str:
    """``value`` encrypted for the column named by ``context`` (e.g. "patient.id_number")."""
    return _cipher().encrypt(value, context)


def unseal(token: str, context: str) -> str:
    """The plaintext of a sealed column value."""
    return _cipher().decrypt(token, context)


def lookup_hash(value: str, kind: str) -> str:
    """The keyed hash by which a sealed value of ``kind`` ("id_number", "phone") is found."""
    return _hasher().digest(value, kind)
