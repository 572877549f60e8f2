"""Signing in: WeChat login, phone binding, bearer tokens and their revocation."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
import sqlalchemy as sa
from flask import current_app
from itsdangerous import (
    BadPayload,
    BadSignature,
    SignatureExpired,
    TimestampSigner,
    URLSafeTimedSerializer,
)
from sqlalchemy.exc import IntegrityError

from app.domain import clock
from app.domain.accounts import AccountStatus
from app.domain.identity import InvalidPhone, mask_phone, validate_mobile
from app.errors import AppError, Conflict
from app.extensions import db, redis_store
from app.integrations import wechat
from app.models import Account
from app.services import protection
from app.services.transaction import transaction

log = logging.getLogger(__name__)

TOKEN_SALT = "patient-access-token"  # noqa: S105 - a namespace, not a secret

# Each authenticated call checks the account's token version and status. They are cached in
# Redis for a short while so that the hot paths (a sold-out answer on release morning) need no
# MySQL. A change of them (a revocation, a freeze) deletes the entry after its commit and marks
# the account changed for as long as an entry lives: a state read before the change (by a
# request, or a hold group under the row's lock, still on its way) is then never cached after
# it, and the account's state is read from MySQL until the mark expires.
_STATE_KEY = "auth:account:{}"
STATE_SECONDS = 30
_CHANGED_KEY = "auth:account:{}:changed"
_CACHE_UNLESS_CHANGED = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"
    message = "请先登录"


class AccountFrozen(AppError):
    status = 403
    code = "account_frozen"
    message = "账号已被冻结，请联系医院"


class InvalidLoginCode(AppError):
    status = 400
    code = "invalid_code"
    message = "登录凭证无效或已过期，请重新登录"


class WeChatDown(AppError):
    status = 503
    code = "wechat_unavailable"
    message = "微信服务暂时不可用，请稍后再试"


@dataclass(frozen=True)
class Login:
    """A successful sign-in: the token to send with every call, and whose it is."""

    token: str
    expires_at: datetime
    account: Account
    created: bool


class _TokenSigner(TimestampSigner):
    """itsdangerous's timestamp signer, deriving its key from the secret once, not at every
    check (tokens are the same: the same derivation, the same signature)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._derived = {}

    def derive_key(self, secret_key=None):
        derived = self._derived.get(secret_key)
        if derived is None:
            derived = self._derived[secret_key] = super().derive_key(secret_key)
        return derived


def _tokens() -> tuple[URLSafeTimedSerializer, TimestampSigner]:
    """The app's token serializer, and the one signer that checks every token: every hold of a
    release morning checks one, and the serializer's ``loads`` builds a signer for each (with
    the key derivation, ~40 % of a check)."""
    key = current_app.config["SECRET_KEY"]
    cached = current_app.extensions.get("token_serializer")
    if cached is None or cached[0] != key:
        serializer = URLSafeTimedSerializer(key, salt=TOKEN_SALT, signer=_TokenSigner)
        cached = current_app.extensions["token_serializer"] = (
            key,
            serializer,
            serializer.make_signer(),
        )
    return cached[1], cached[2]


def _serializer() -> URLSafeTimedSerializer:
    return _tokens()[0]


def issue_token(account: Account) -> tuple[str, datetime]:
    """A signed bearer token for ``account``, valid TOKEN_TTL_SECONDS or until revoked."""
    token = _serializer().dumps([account.id, account.token_version])
    ttl = current_app.config["TOKEN_TTL_SECONDS"]
    return token, clock.now() + timedelta(seconds=ttl)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the account a token was signed for, and the token's version."""

    id: int
    token_version: int


def authenticate(token: str | None) -> Principal:
    """The account a bearer token stands for; 401 when missing, forged, expired or revoked."""
    principal = verify_signature(token)
    ensure_current(principal)
    return principal


def verify_signature(token: str | None) -> Principal:
    """Who a token was signed for; 401 when missing, forged or expired. Not yet whether it was
    revoked or the account frozen: call ensure_current before acting for it."""
    if not token:
        raise Unauthorized()
    serializer, signer = _tokens()
    try:
        # What the serializer's loads does, with the signer built once (it has no fallbacks).
        signed = signer.unsign(token, max_age=current_app.config["TOKEN_TTL_SECONDS"])
        account_id, version = serializer.load_payload(signed)
    except SignatureExpired:
        raise Unauthorized("登录已过期，请重新登录") from None
    except (BadSignature, BadPayload, ValueError, TypeError):
        raise Unauthorized("登录凭证无效，请重新登录") from None
    if not isinstance(account_id, int) or not isinstance(version, int):
        raise Unauthorized("登录凭证无效，请重新登录")
    return Principal(account_id, version)


def ensure_current(principal: Principal):
    """401 if the principal's token was revoked or the account deleted, 403 if frozen."""
    try:
        cached = redis_store.read("GET", state_key(principal.id))
    except redis.RedisError:
        cached = None
    ensure_read(principal, cached)


def ensure_read(principal: Principal, cached: bytes | None):
    """ensure_current, given what the caller already read at state_key (in the same round trip
    as something else): MySQL is asked only when nothing was cached there."""
    if cached is None:
        ensure_state(principal, *_stored_state(principal.id))
    else:
        ensure_state(principal, *_cached_state(cached))


def ensure_state(principal: Principal, current_version, status):
    """The same check against a version and status the caller read (e.g. from a locked row)."""
    if current_version != principal.token_version:
        raise Unauthorized("登录已失效，请重新登录")
    if status == AccountStatus.FROZEN:
        raise AccountFrozen()
    if status != AccountStatus.ACTIVE:
        raise Unauthorized("登录已失效，请重新登录")


def state_key(account_id) -> str:
    """The Redis key of an account's cached token version and status (read it in the same
    round trip as something else, then check it with ensure_read)."""
    return _STATE_KEY.format(account_id)


def _cached_state(cached: bytes) -> tuple[int, str]:
    """(token version, status) from the value at state_key."""
    version, _, status = cached.decode().partition(":")
    return int(version), status


_account = Account.__table__.c
# A Core statement on the table (no ORM entity to compile or load), prebuilt once.
_STATE = sa.select(_account.token_version, _account.status).where(
    _account.id == sa.bindparam("account_id")
)


def _stored_state(account_id) -> tuple[int | None, str | None]:
    """(token version, status) of an account from MySQL, cached in Redis for the next request."""
    row = db.session.execute(_STATE, {"account_id": account_id}).first()
    if row is None:
        return None, None
    version, status = row
    try:
        redis_store.send("EVAL", *_cached_unless_changed(account_id, version, status))
    except redis.RedisError as error:
        log.warning("auth state not cached: %s", error)
    return version, status


def remember_state(principal: Principal, pipe):
    """Cache the state of a caller that a transaction just found current (ensure_state, under
    its account row's lock), with ``pipe``'s batch of after-commit effects: the caller's next
    request then needs no MySQL for it (the hold group does this before its 201s, and the
    payment follows them)."""
    pipe.eval(*_cached_unless_changed(principal.id, principal.token_version, AccountStatus.ACTIVE))


def _cached_unless_changed(account_id, version, status) -> tuple:
    """EVAL's arguments that cache a state unless forget_state ran since it was read."""
    keys = (state_key(account_id), _CHANGED_KEY.format(account_id))
    return _CACHE_UNLESS_CHANGED, len(keys), *keys, f"{version}:{status}", STATE_SECONDS


def forget_state(account_id):
    """Drop the cached token version and status (call after the commit that changed them)."""
    with redis_store.batch(f"auth state of account {account_id}", level=logging.ERROR) as pipe:
        pipe.set(_CHANGED_KEY.format(account_id), 1, ex=STATE_SECONDS)
        pipe.delete(state_key(account_id))


def login_with_wechat(code: str) -> Login:
    """Exchange a wx.login code for our token, creating the account on first login."""
    try:
        session = wechat.code_to_session(code)
    except wechat.InvalidCode:
        raise InvalidLoginCode() from None
    except wechat.RateLimited:
        raise AppError(
            "登录请求过于频繁，请稍后再试", code="too_many_requests", status=429
        ) from None
    except wechat.WeChatError as error:
        log.warning("wechat login failed: %s", error)
        raise WeChatDown() from None
    return finish_login(lambda: _account_by_openid(session.openid, session.unionid))


def finish_login(find_or_create) -> Login:
    """Find or create the account, refuse a frozen one, commit, and issue a token."""
    with transaction():
        account, created = find_or_create()
        if account.status == AccountStatus.FROZEN:
            raise AccountFrozen()
        token, expires_at = issue_token(account)
    return Login(token, expires_at, account, created)


def _account_by_openid(openid, unionid):
    account = db.session.scalar(sa.select(Account).where(Account.openid == openid))
    if account is not None:
        if unionid and account.unionid != unionid:
            account.unionid = unionid
        return account, False
    return create_account(Account(openid=openid, unionid=unionid), Account.openid == openid)


def create_account(account, natural_key):
    """Insert ``account``; if a concurrent first login inserted it first, use that one."""
    try:
        with db.session.begin_nested():
            db.session.add(account)
        return account, True
    except IntegrityError:
        # A locking read waits for the other transaction if need be and sees its row.
        return db.session.scalar(sa.select(Account).where(natural_key).with_for_update()), False


def bind_phone(account_id: int, code: str) -> Account:
    """Bind the phone number WeChat verified (getPhoneNumber button) to the account."""
    try:
        phone = validate_mobile(wechat.phone_number(code))
    except wechat.InvalidCode:
        raise InvalidLoginCode("手机号授权已失效，请重新授权") from None
    except InvalidPhone as error:
        raise AppError(error.message, code="invalid_phone", status=422) from None
    except wechat.WeChatError as error:
        log.warning("wechat phone number failed: %s", error)
        raise WeChatDown() from None
    with transaction(on_conflict=lambda _: _phone_in_use()):
        account = db.session.get(Account, account_id)
        set_phone(account, phone)
    return account


def _phone_in_use():
    return Conflict("该手机号已绑定其他账号", code="phone_in_use")


def set_phone(account: Account, phone: str):
    """Record ``phone`` (already validated) as the account's verified phone."""
    phone_hash = protection.lookup_hash(phone, "phone")
    if account.phone_hash == phone_hash:
        return
    taken = db.session.scalar(
        sa.select(Account.id).where(Account.phone_hash == phone_hash, Account.id != account.id)
    )
    if taken is not None:
        raise _phone_in_use()
    for name, value in phone_fields(phone).items():
        setattr(account, name, value)


def phone_fields(phone: str) -> dict:
    """The account columns that hold a verified ``phone``: sealed, keyed hash, masked."""
    return {
        "phone_cipher": protection.seal(phone, "account.phone"),
        "phone_hash": protection.lookup_hash(phone, "phone"),
        "phone_masked": mask_phone(phone),
    }


def revoke_tokens(account: Account):
    """Make every token issued so far for ``account`` invalid.

    The caller commits, then calls forget_state(account.id).
    """
    account.token_version += 1
    forget_state(account.id)


def logout(account_id: int):
    """Sign out: revoke the account's tokens."""
    with transaction():
        revoke_tokens(db.session.get(Account, account_id))
    forget_state(account_id)
