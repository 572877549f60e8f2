"""WeChat Pay APIv3 wire rules shared by our adapter and the sandbox stand-in.

Both sides of the protocol live here so that they cannot drift apart:

- request signatures: ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",
  signature="…",timestamp="…",serial_no="…"``, RSA-SHA256 (PKCS#1 v1.5) with the merchant key
  over ``METHOD\\nURL\\ntimestamp\\nnonce\\nbody\\n`` (``build_authorization`` /
  ``parse_authorization``);
- response and notification signatures: the ``Wechatpay-*`` headers, RSA-SHA256 with WeChat Pay's
  key over ``timestamp\\nnonce\\nbody\\n`` (``signature_headers`` / ``verify_signature_headers``);
- notification resources: AEAD_AES_256_GCM under the 32-byte APIv3 key, the nonce and associated
  data used as their UTF-8 bytes, the 16-byte tag appended to the base64 ciphertext
  (``encrypt_resource`` / ``decrypt_resource``);
- RFC 3339 times in China Standard Time (``format_time`` / ``parse_time``).

Standard library, ``cryptography`` and ``app.domain`` only.
"""

import base64
import binascii
import functools
import re
import secrets
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.domain.clock import CHINA_TZ

SCHEME = "WECHATPAY2-SHA256-RSA2048"
SIGNATURE_TYPE = SCHEME  # the Wechatpay-Signature-Type header of responses and notifications
AEAD_ALGORITHM = "AEAD_AES_256_GCM"
# WeChat refuses requests, and we refuse notifications, stamped further than this from our clock.
MAX_CLOCK_SKEW_SECONDS = 300
APIV3_KEY_BYTES = 32
RESOURCE_NONCE_LENGTH = 12  # AES-GCM's 96-bit nonce, sent as 12 ASCII characters

TIMESTAMP_HEADER = "Wechatpay-Timestamp"
NONCE_HEADER = "Wechatpay-Nonce"
SIGNATURE_HEADER = "Wechatpay-Signature"
SERIAL_HEADER = "Wechatpay-Serial"
SIGNATURE_TYPE_HEADER = "Wechatpay-Signature-Type"

_AUTH_PARAM = re.compile(r'\s*([a-z_]+)="([^"]*)"\s*')
_AUTH_FIELDS = ("mchid", "nonce_str", "signature", "timestamp", "serial_no")
_TIMESTAMP = re.compile(r"\d{1,12}")


class ProtocolError(Exception):
    """A message that breaks the WeChat Pay APIv3 rules; ``reason`` says which rule."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class MalformedAuthorization(ProtocolError):
    """An Authorization header that is not a WECHATPAY2-SHA256-RSA2048 credential."""


class SignatureInvalid(ProtocolError):
    """Wechatpay-* signature headers that are missing, stale, for another key, or wrong."""


class ResourceUndecryptable(ProtocolError):
    """An encrypted resource that is malformed or does not decrypt under the APIv3 key."""


@dataclass(frozen=True)
class Authorization:
    """The parts of a merchant's request credential."""

    mchid: str
    nonce_str: str
    signature: str
    timestamp: str
    serial_no: str


# --- Keys ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM (PKCS#8 or PKCS#1)."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


@functools.lru_cache(maxsize=16)
def load_public_key(pem: str) -> rsa.RSAPublicKey:
    """An RSA public key from PEM (SubjectPublicKeyInfo)."""
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


@functools.lru_cache(maxsize=16)
def public_key_of(private_pem: str) -> rsa.RSAPublicKey:
    """The public half of a PEM private key."""
    return load_private_key(private_pem).public_key()


# --- RSA-SHA256 --------------------------------------------------------------------------------


def nonce_str() -> str:
    """A random nonce of 32 upper-case hexadecimal digits (128 bits), within what WeChat Pay
    takes (at most 32 letters and digits)."""
    return secrets.token_hex(16).upper()


def rsa_sign(private_key: rsa.RSAPrivateKey, message: bytes) -> str:
    """Base64 RSA-SHA256 (PKCS#1 v1.5) signature of ``message``."""
    signature = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def rsa_verify(public_key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64) is ``public_key``'s RSA-SHA256 signature of ``message``."""
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True


def request_message(method: str, url: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """What a merchant signs: ``METHOD\\nURL\\ntimestamp\\nnonce\\nbody\\n``.

    ``url`` is the absolute path with its query string, as sent (no scheme or host); ``body`` is the
    request body exactly as sent, empty for GET.
    """
    head = f"{method.upper()}\n{url}\n{timestamp}\n{nonce}\n".encode()
    return head + body + b"\n"


def response_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """What WeChat Pay signs in a response or notification: ``timestamp\\nnonce\\nbody\\n``."""
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def build_authorization(
    private_key: rsa.RSAPrivateKey,
    mchid: str,
    serial_no: str,
    method: str,
    url: str,
    body: bytes = b"",
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> str:
    """The Authorization header of a merchant request."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or nonce_str()
    signature = rsa_sign(private_key, request_message(method, url, stamp, nonce, body))
    return (
        f'{SCHEME} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{stamp}",serial_no="{serial_no}"'
    )


def parse_authorization(header: str | None) -> Authorization:
    """The credential in an Authorization header; MalformedAuthorization if it is not one."""
    if not header or not header.startswith(SCHEME + " "):
        raise MalformedAuthorization(f"Authorization must use the {SCHEME} scheme")
    params = {}
    for part in header[len(SCHEME) + 1 :].split(","):
        match = _AUTH_PARAM.fullmatch(part)
        if match is None or match.group(1) in params:
            raise MalformedAuthorization("Authorization parameters are malformed")
        params[match.group(1)] = match.group(2)
    missing = [name for name in _AUTH_FIELDS if not params.get(name)]
    if missing:
        raise MalformedAuthorization(f"Authorization lacks {', '.join(missing)}")
    if not _TIMESTAMP.fullmatch(params["timestamp"]):
        raise MalformedAuthorization("Authorization timestamp is not a Unix time")
    return Authorization(**{name: params[name] for name in _AUTH_FIELDS})


def verify_authorization(
    authorization: Authorization,
    public_key: rsa.RSAPublicKey,
    method: str,
    url: str,
    body: bytes,
) -> bool:
    """Whether the credential's signature covers this request under the merchant's key."""
    message = request_message(method, url, authorization.timestamp, authorization.nonce_str, body)
    return rsa_verify(public_key, message, authorization.signature)


def signature_headers(
    private_key: rsa.RSAPrivateKey,
    serial: str,
    body: bytes,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The Wechatpay-* headers with which WeChat Pay signs a response or notification ``body``."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or nonce_str()
    return {
        TIMESTAMP_HEADER: stamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: rsa_sign(private_key, response_message(stamp, nonce, body)),
        SERIAL_HEADER: serial,
        SIGNATURE_TYPE_HEADER: SIGNATURE_TYPE,
    }


def verify_signature_headers(
    headers: Mapping[str, str],
    body: bytes,
    public_key: rsa.RSAPublicKey,
    serial: str,
    *,
    now: float | None = None,
    max_skew: int = MAX_CLOCK_SKEW_SECONDS,
) -> None:
    """Check WeChat Pay's signature of ``body``; raise SignatureInvalid saying why it fails.

    ``headers`` may be any mapping (Flask's, requests', a dict); names are matched without regard
    to case. The serial must be ``serial`` (our WeChat Pay public key id), the timestamp within
    ``max_skew`` seconds of ``now``, and the signature WeChat Pay's over
    ``timestamp\\nnonce\\nbody\\n``.
    """
    lower = {str(name).lower(): value for name, value in headers.items()}
    stamp = lower.get(TIMESTAMP_HEADER.lower())
    nonce = lower.get(NONCE_HEADER.lower())
    signature = lower.get(SIGNATURE_HEADER.lower())
    given_serial = lower.get(SERIAL_HEADER.lower())
    signature_type = lower.get(SIGNATURE_TYPE_HEADER.lower())
    if not (stamp and nonce and signature and given_serial):
        raise SignatureInvalid("Wechatpay-* signature headers are missing")
    if signature_type not in (None, SIGNATURE_TYPE):
        raise SignatureInvalid(f"unsupported signature type {signature_type!r}")
    if not secrets.compare_digest(given_serial.encode(), serial.encode()):
        raise SignatureInvalid(f"Wechatpay-Serial {given_serial!r} is not our public key id")
    if not _TIMESTAMP.fullmatch(stamp):
        raise SignatureInvalid("Wechatpay-Timestamp is not a Unix time")
    now = time.time() if now is None else now
    if abs(now - int(stamp)) > max_skew:
        raise SignatureInvalid(f"Wechatpay-Timestamp is more than {max_skew} s from our clock")
    if not rsa_verify(public_key, response_message(stamp, nonce, body), signature):
        raise SignatureInvalid("Wechatpay-Signature does not verify")


# --- AEAD_AES_256_GCM resources ------------------------------------------------------------------


def _aes(apiv3_key: str) -> AESGCM:
    key = apiv3_key.encode()
    if len(key) != APIV3_KEY_BYTES:
        raise ValueError("the APIv3 key must be 32 bytes")
    return AESGCM(key)


def encrypt_resource(
    apiv3_key: str,
    plaintext: bytes,
    associated_data: str,
    original_type: str,
    *,
    nonce: str | None = None,
) -> dict[str, str]:
    """A notification ``resource`` holding ``plaintext``, as WeChat Pay encrypts it."""
    nonce = nonce or "".join(
        secrets.choice(string.ascii_letters + string.digits) for _ in range(RESOURCE_NONCE_LENGTH)
    )
    sealed = _aes(apiv3_key).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return {
        "algorithm": AEAD_ALGORITHM,
        "ciphertext": base64.b64encode(sealed).decode("ascii"),
        "nonce": nonce,
        "associated_data": associated_data,
        "original_type": original_type,
    }


def decrypt_resource(apiv3_key: str, resource: object) -> bytes:
    """The plaintext of a notification ``resource``; ResourceUndecryptable if it cannot be had."""
    if not isinstance(resource, Mapping):
        raise ResourceUndecryptable("resource is not an object")
    if resource.get("algorithm") != AEAD_ALGORITHM:
        raise ResourceUndecryptable(f"unsupported algorithm {resource.get('algorithm')!r}")
    nonce, ciphertext = resource.get("nonce"), resource.get("ciphertext")
    associated_data = resource.get("associated_data") or ""
    if not isinstance(nonce, str) or not isinstance(ciphertext, str) or not nonce:
        raise ResourceUndecryptable("resource lacks nonce or ciphertext")
    if not isinstance(associated_data, str):
        raise ResourceUndecryptable("resource associated_data is not a string")
    try:
        sealed = base64.b64decode(ciphertext, validate=True)
        return _aes(apiv3_key).decrypt(nonce.encode(), sealed, associated_data.encode())
    except (binascii.Error, ValueError, InvalidTag):
        raise ResourceUndecryptable("resource does not decrypt under the APIv3 key") from None


# --- Times --------------------------------------------------------------------------------------


def format_time(moment: datetime) -> str:
    """RFC 3339 in China Standard Time, to the second: ``2026-11-20T09:30:00+08:00``."""
    if moment.tzinfo is None:
        raise ValueError("the time must be timezone-aware")
    return moment.astimezone(CHINA_TZ).replace(microsecond=0).isoformat()


def parse_time(text: object) -> datetime:
    """An aware datetime from an RFC 3339 string; ValueError when it is not one."""
    if not isinstance(text, str) or "T" not in text:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"RFC 3339 time without offset: {text!r}")
    return moment
