"""Identity data at rest: encrypt, decrypt and find values through keyed hashes.

Names and birth dates are sealed column types (app/models/types.py), encrypted and decrypted
by the ORM itself; ID and phone numbers are sealed here, explicitly, because only the owner's
export ever reads them back.
"""

from dataclasses import dataclass

from app.domain.identity import IdentityError, validate_mobile, validate_person_name
from app.extensions import field_cipher, lookup_hasher


def seal(value: str, context: str) -> str:
    """``value`` encrypted for the column named by ``context`` (e.g. "patient.id_number")."""
    return field_cipher().encrypt(value, context)


def unseal(token: str, context: str) -> str:
    """The plaintext of a sealed column value."""
    return field_cipher().decrypt(token, context)


def lookup_hash(value: str, kind: str) -> str:
    """The keyed hash by which a sealed value of ``kind`` ("id_number", "phone") is found."""
    return lookup_hasher().digest(value, kind)


def name_hash(name: str) -> str:
    """The keyed hash by which a patient is found by exact real name (as validated and stored;
    Latin letters in any case)."""
    return lookup_hash(name.casefold(), "name")


@dataclass(frozen=True)
class SearchKeys:
    """What text typed into a staff search box can name: a row id, a mobile number or a real
    name, the last two as the keyed hashes they are stored under."""

    text: str
    row_id: int | None
    phone_hash: str | None
    name_hash: str | None


def search_keys(text) -> SearchKeys:
    """The keys of typed search text (spaces collapsed; each key None when the text is not one)."""
    text = " ".join(str(text or "").split())
    row_id = int(text) if text.isdigit() and len(text) <= 18 else None
    try:
        phone = lookup_hash(validate_mobile(text), "phone")
    except IdentityError:
        phone = None
    try:
        name = name_hash(validate_person_name(text))
    except IdentityError:
        name = None
    return SearchKeys(text, row_id, phone, name)
