"""Tencent Cloud API 3.0 request signing, TC3-HMAC-SHA256 (腾讯云 "签名方法 v3").

Both sides of the protocol live here so that they cannot drift apart: ``sign_tc3`` builds the
``Authorization`` header a client sends, ``parse_authorization`` and ``verify_tc3`` check one as
Tencent's servers do. The steps are the documented ones: canonical request → string to sign →
a key derived from the SecretKey by date, service and "tc3_request" → hex HMAC-SHA256.
"""

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

ALGORITHM = "TC3-HMAC-SHA256"
TERMINATOR = "tc3_request"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
# The headers every signature must cover; a client may sign more (x-tc-action, ...).
REQUIRED_SIGNED_HEADERS = ("content-type", "host")
# Tencent refuses a request whose X-TC-Timestamp is further than this from its clock.
MAX_CLOCK_SKEW_SECONDS = 300

_AUTHORIZATION = re.compile(
    ALGORITHM + r" Credential=(?P<secret_id>[^/\s,]+)/(?P<date>\d{4}-\d{2}-\d{2})"
    r"/(?P<service>[a-z0-9-]+)/" + TERMINATOR + r",\s*"
    r"SignedHeaders=(?P<signed_headers>[a-z0-9-]+(?:;[a-z0-9-]+)*),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})"
)


class MalformedAuthorization(ValueError):
    """The Authorization header is not a TC3-HMAC-SHA256 one."""


@dataclass(frozen=True)
class Authorization:
    """The parts of a TC3 ``Authorization`` header."""

    secret_id: str
    date: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def credential_date(timestamp: int) -> str:
    """The UTC date of ``timestamp`` as the credential scope carries it (never local time)."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def credential_scope(date: str, service: str) -> str:
    """``2019-02-25/cvm/tc3_request``."""
    return f"{date}/{service}/{TERMINATOR}"


def canonical_request(
    method: str,
    uri: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    payload: bytes,
) -> str:
    """Step 1: the canonical request over ``signed_headers`` (keys lower case) and the body."""
    lowered = {key.lower(): value for key, value in headers.items()}
    canonical_headers = "".join(
        f"{name}:{lowered[name].strip().lower()}\n" for name in signed_headers
    )
    return "\n".join(
        (
            method.upper(),
            uri,
            query,
            canonical_headers,
            ";".join(signed_headers),
            _sha256_hex(payload),
        )
    )


def string_to_sign(timestamp: int, scope: str, canonical: str) -> str:
    """Step 2: algorithm, timestamp, credential scope and the hash of the canonical request."""
    return "\n".join((ALGORITHM, str(timestamp), scope, _sha256_hex(canonical.encode())))


def signature(secret_key: str, date: str, service: str, to_sign: str) -> str:
    """Step 3: the hex HMAC of ``to_sign`` under the key derived for ``date`` and ``service``."""
    secret_date = _hmac(("TC3" + secret_key).encode(), date)
    secret_service = _hmac(secret_date, service)
    secret_signing = _hmac(secret_service, TERMINATOR)
    return hmac.new(secret_signing, to_sign.encode(), hashlib.sha256).hexdigest()


def authorization_header(
    secret_id: str, scope: str, signed_headers: Sequence[str], sig: str
) -> str:
    """Step 4: the ``Authorization`` header value."""
    return (
        f"{ALGORITHM} Credential={secret_id}/{scope}, "
        f"SignedHeaders={';'.join(signed_headers)}, Signature={sig}"
    )


def sign_tc3(
    secret_id: str,
    secret_key: str,
    service: str,
    host: str,
    payload: bytes,
    timestamp: int,
    content_type: str = JSON_CONTENT_TYPE,
) -> str:
    """The ``Authorization`` value for a POST of ``payload`` to ``host`` at ``timestamp``.

    Signs content-type and host, as Tencent's own example does; the request must carry exactly
    these Content-Type and Host values and this timestamp in X-TC-Timestamp.
    """
    date = credential_date(timestamp)
    scope = credential_scope(date, service)
    headers = {"content-type": content_type, "host": host}
    canonical = canonical_request("POST", "/", "", headers, REQUIRED_SIGNED_HEADERS, payload)
    sig = signature(secret_key, date, service, string_to_sign(timestamp, scope, canonical))
    return authorization_header(secret_id, scope, REQUIRED_SIGNED_HEADERS, sig)


def parse_authorization(value: str | None) -> Authorization:
    """The parts of a TC3 ``Authorization`` header; MalformedAuthorization if it is none."""
    match = _AUTHORIZATION.fullmatch((value or "").strip())
    if match is None:
        raise MalformedAuthorization("not a TC3-HMAC-SHA256 Authorization header")
    return Authorization(
        secret_id=match["secret_id"],
        date=match["date"],
        service=match["service"],
        signed_headers=tuple(match["signed_headers"].split(";")),
        signature=match["signature"],
    )


def verify_tc3(
    authorization: Authorization,
    secret_key: str,
    headers: Mapping[str, str],
    payload: bytes,
    timestamp: int,
    method: str = "POST",
    uri: str = "/",
    query: str = "",
) -> bool:
    """Whether ``authorization`` signs this request with ``secret_key``, as Tencent checks it.

    ``headers`` are the request's headers as received; the credential date must be the UTC date
    of ``timestamp``, and content-type and host must be among the signed headers. The freshness
    of ``timestamp`` is the caller's check (see MAX_CLOCK_SKEW_SECONDS).
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    signed = authorization.signed_headers
    if authorization.date != credential_date(timestamp):
        return False
    if not set(REQUIRED_SIGNED_HEADERS) <= set(signed) or not set(signed) <= set(lowered):
        return False
    canonical = canonical_request(method, uri, query, lowered, signed, payload)
    scope = credential_scope(authorization.date, authorization.service)
    expected = signature(
        secret_key,
        authorization.date,
        authorization.service,
        string_to_sign(timestamp, scope, canonical),
    )
    return hmac.compare_digest(expected, authorization.signature)
