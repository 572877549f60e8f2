"""Field encryption at rest (AES-256-GCM with a rotating keyring) and keyed lookup hashes."""

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CIPHERTEXT_VERSION = "v1"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
LOOKUP_KEY_MIN_BYTES = 32

_KID_RE = re.compile(r"[A-Za-z0-9_-]{1,16}")
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]+")


class CryptoError(Exception):
    """Base of this module's errors."""


class CryptoConfigError(CryptoError):
    """A keyring spec or lookup key that cannot be used."""


class DecryptionError(CryptoError):
    """A token that cannot be decrypted: malformed, unknown key, tampered, or another context."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _from_b64url(text: str) -> bytes:
    if not _B64URL_RE.fullmatch(text):
        raise DecryptionError("token body is not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        raise DecryptionError("token body is not base64url") from None
    # One ciphertext, one spelling: reject bodies whose unused trailing bits were altered.
    if _b64url(data) != text:
        raise DecryptionError("token body is not canonical base64url")
    return data


def _check_kid(kid: str) -> None:
    if not isinstance(kid, str) or not _KID_RE.fullmatch(kid):
        raise CryptoConfigError(f"key id {kid!r} must be 1-16 of A-Z a-z 0-9 _ -")


def _check_context(context: str) -> bytes:
    if not isinstance(context, str) or not context:
        raise ValueError("an encryption context (e.g. 'patient.id_number') is required")
    return context.encode("utf-8")


def parse_key_spec(spec: str) -> dict[str, bytes]:
    """The keys of a spec "kid:base64key[,kid:base64key...]", in order, the active one first."""
    if not isinstance(spec, str) or not spec.strip():
        raise CryptoConfigError("the field encryption keyring is empty")
    keys: dict[str, bytes] = {}
    for position, entry in enumerate(spec.split(","), start=1):
        kid, sep, encoded = entry.strip().partition(":")
        if not sep:
            raise CryptoConfigError(f"keyring entry {position} is not 'kid:base64key'")
        _check_kid(kid)
        if kid in keys:
            raise CryptoConfigError(f"key id {kid!r} appears twice in the keyring")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error:
            # The message names the key id only: the key itself must never reach a log.
            raise CryptoConfigError(f"key {kid!r} is not valid base64") from None
        if len(key) != KEY_BYTES:
            raise CryptoConfigError(f"key {kid!r} must be {KEY_BYTES} bytes, not {len(key)}")
        keys[kid] = key
    return keys


def generate_key_spec(kid: str = "k1") -> str:
    """A new keyring entry "kid:<base64 of 32 random bytes>", for setup docs and tools."""
    _check_kid(kid)
    return f"{kid}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode('ascii')}"


class FieldCipher:
    """Encrypts column values with the active key; decrypts with any key of the keyring.

    Tokens read "v1:<kid>:<base64url(nonce ‖ ciphertext ‖ tag)>", plain ASCII for a VARCHAR.
    The context (table.column) is the associated data, so a token moved to another column
    fails to decrypt.
    """

    def __init__(self, spec: str):
        keys = parse_key_spec(spec)
        self._aeads = {kid: AESGCM(key) for kid, key in keys.items()}
        self.active_kid = next(iter(keys))

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The keyring's key ids, the active one first."""
        return tuple(self._aeads)

    def __repr__(self):
        return f"<FieldCipher active={self.active_kid!r} keys={list(self._aeads)!r}>"

    def encrypt(self, plaintext: str, context: str) -> str:
        """A token for ``plaintext`` under the active key, bound to ``context``."""
        aad = _check_context(context)
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aeads[self.active_kid].encrypt(nonce, plaintext.encode("utf-8"), aad)
        return f"{CIPHERTEXT_VERSION}:{self.active_kid}:{_b64url(nonce + sealed)}"

    def decrypt(self, token: str, context: str) -> str:
        """The plaintext of ``token``; DecryptionError unless it is intact and of ``context``."""
        aad = _check_context(context)
        kid, body = _split_token(token)
        aead = self._aeads.get(kid)
        if aead is None:
            raise DecryptionError(f"no key {kid!r} in the keyring")
        data = _from_b64url(body)
        if len(data) < NONCE_BYTES + TAG_BYTES:
            raise DecryptionError("token is too short")
        try:
            plaintext = aead.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], aad)
        except InvalidTag:
            raise DecryptionError("token was altered, or belongs to another context") from None
        return plaintext.decode("utf-8")

    def key_id_of(self, token: str) -> str:
        """The id of the key that encrypted ``token``."""
        return _split_token(token)[0]

    def needs_rotation(self, token: str) -> bool:
        """Whether ``token`` was encrypted with a key other than the active one."""
        return self.key_id_of(token) != self.active_kid

    def rotate(self, token: str, context: str) -> str:
        """``token`` under the active key; one already under it is checked and returned as is."""
        plaintext = self.decrypt(token, context)
        if not self.needs_rotation(token):
            return token
        return self.encrypt(plaintext, context)


def _split_token(token: str) -> tuple[str, str]:
    if not isinstance(token, str):
        raise DecryptionError("token is not text")
    parts = token.split(":")
    if len(parts) != 3 or parts[0] != CIPHERTEXT_VERSION or not _KID_RE.fullmatch(parts[1]):
        raise DecryptionError(f"token is not of the form '{CIPHERTEXT_VERSION}:<kid>:<data>'")
    return parts[1], parts[2]


class LookupHasher:
    """Keyed hashes (HMAC-SHA256) to find rows by an encrypted value without decrypting them.

    The message is ``context ‖ 0x00 ‖ value`` in UTF-8, so equal values of different fields hash
    apart. Stored digests depend on this construction and the key: changing either means
    re-hashing every row.
    """

    def __init__(self, key: str):
        if not isinstance(key, str) or len(key.encode("utf-8")) < LOOKUP_KEY_MIN_BYTES:
            raise CryptoConfigError(
                f"the lookup hash key must be at least {LOOKUP_KEY_MIN_BYTES} bytes"
            )
        self._key = key.encode("utf-8")

    def __repr__(self):
        return "<LookupHasher>"

    def digest(self, value: str, context: str) -> str:
        """The hex HMAC of an already normalized ``value`` within ``context`` (e.g. "id_number")."""
        context_bytes = _check_context(context)
        # A NUL inside the context would make the context/value boundary ambiguous.
        if b"\x00" in context_bytes:
            raise ValueError("the lookup context must not contain NUL")
        message = context_bytes + b"\x00" + value.encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


class TicketInvalid(CryptoError):
    """A ticket payload that is malformed or whose signature does not verify."""


TICKET_VERSION = "T1"


class TicketSigner:
    """Signs e-ticket QR payloads with Ed25519: a scanner checks them offline with the public key.

    A payload reads "T1.<base64url(JSON)>.<base64url(signature over 'T1.<body>')>".
    """

    def __init__(self, seed_b64: str):
        try:
            seed = base64.b64decode(seed_b64, validate=True)
        except (ValueError, TypeError):  # binascii.Error is a ValueError; so is non-ASCII text
            raise CryptoConfigError("the ticket signing key is not valid base64") from None
        if len(seed) != 32:
            raise CryptoConfigError("the ticket signing key must be 32 bytes")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)

    def __repr__(self):
        return "<TicketSigner>"

    @property
    def public_key(self) -> str:
        """The raw 32-byte public key, base64: what scanners are given."""
        raw = self._key.public_key().public_bytes_raw()
        return base64.b64encode(raw).decode("ascii")

    def sign(self, payload: dict) -> str:
        """The signed QR text for ``payload`` (JSON-able, compact)."""
        body = _b64url(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        signed = f"{TICKET_VERSION}.{body}"
        return f"{signed}.{_b64url(self._key.sign(signed.encode('ascii')))}"


def verify_ticket(public_key_b64: str, text: str) -> dict:
    """The payload of a signed ticket, checked against ``public_key_b64``; TicketInvalid if not."""
    parts = text.split(".") if isinstance(text, str) else []
    if len(parts) != 3 or parts[0] != TICKET_VERSION:
        raise TicketInvalid("not a ticket")
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True))
        key.verify(_from_b64url(parts[2]), f"{parts[0]}.{parts[1]}".encode("ascii"))
        return json.loads(_from_b64url(parts[1]))
    except (InvalidSignature, DecryptionError, ValueError, binascii.Error):
        raise TicketInvalid("the ticket's signature does not verify") from None
