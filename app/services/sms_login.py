"""Phone login for the H5 channel: a 6-digit code by text message, with rate limits."""

import hashlib
import hmac
import logging
import secrets

import redis
import sqlalchemy as sa
from flask import current_app

from app.domain.identity import InvalidPhone, mask_phone, validate_mobile
from app.errors import AppError
from app.extensions import db, redis_store
from app.infra import ratelimit
from app.integrations import sms
from app.models import Account
from app.services import auth, protection
from app.services.auth import InvalidLoginCode, Login

log = logging.getLogger(__name__)

_CODE_KEY = "auth:sms:{}"

# Check the code and count the try in one step, so parallel guesses cannot exceed the tries.
# KEYS[1] code hash; ARGV[1] digest offered, ARGV[2] tries allowed. 1 = right, 0 = wrong, -1 = none.
_VERIFY = """
local digest = redis.call('HGET', KEYS[1], 'digest')
if not digest then return -1 end
if digest == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
local tries = redis.call('HINCRBY', KEYS[1], 'tries', 1)
if tries >= tonumber(ARGV[2]) then redis.call('DEL', KEYS[1]) end
return 0
"""


class TooManyRequests(AppError):
    status = 429
    code = "too_many_requests"
    message = "操作过于频繁，请稍后再试"


class SmsDown(AppError):
    status = 503
    code = "sms_unavailable"
    message = "短信服务暂时不可用，请稍后再试"


def _phone(raw) -> str:
    try:
        return validate_mobile(raw)
    except InvalidPhone as error:
        raise AppError(
            error.message, code="invalid_phone", status=422, errors={"phone": [error.message]}
        ) from None


def _limits():
    config = current_app.config
    return (
        ratelimit.Limit("sms-phone-minute", config["SMS_PER_PHONE_PER_MINUTE"], 60),
        ratelimit.Limit("sms-phone-day", config["SMS_PER_PHONE_PER_DAY"], 24 * 3600),
        ratelimit.Limit("sms-ip-hour", config["SMS_PER_IP_PER_HOUR"], 3600),
    )


def _digest(phone_hash, code):
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{phone_hash}:{code}".encode(), hashlib.sha256).hexdigest()


def send_code(raw_phone, ip) -> dict:
    """Text a login code to ``raw_phone`` unless the phone or the caller's IP is over its limits."""
    phone = _phone(raw_phone)
    phone_hash = protection.lookup_hash(phone, "phone")
    per_minute, per_day, per_ip = _limits()
    client = redis_store.client
    try:
        # Redis keys carry the phone's keyed hash, never the number.
        checks = ((per_ip, ip or "unknown"), (per_minute, phone_hash), (per_day, phone_hash))
        for limit, key in checks:
            wait = ratelimit.hit(limit, key)
            if wait is not None:
                raise TooManyRequests(retry_after=wait)
        code = f"{secrets.randbelow(10**6):06d}"
        ttl = current_app.config["SMS_CODE_TTL_SECONDS"]
        key = _CODE_KEY.format(phone_hash)
        pipe = client.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, mapping={"digest": _digest(phone_hash, code), "tries": 0})
        pipe.expire(key, ttl)
        pipe.execute()
    except redis.RedisError as error:
        # Without Redis there are no limits: refuse rather than let texts be sent unbounded.
        log.error("sms code not sent, redis failed: %s", error)
        raise SmsDown() from None
    try:
        sms.send_login_code(phone, code, max(ttl // 60, 1))
    except sms.SmsError as error:
        client.delete(key)
        log.warning("sms to %s failed: %s", mask_phone(phone), error.code)
        if isinstance(error, sms.SmsRejected):
            message = "该手机号暂时无法接收短信"
            raise AppError(
                message, code="sms_rejected", status=422, errors={"phone": [message]}
            ) from None
        raise SmsDown() from None
    return {"expires_in": ttl, "retry_after": per_minute.seconds}


def login(raw_phone, code) -> Login:
    """Sign in with the texted code; the account is created on first login by this phone."""
    phone = _phone(raw_phone)
    phone_hash = protection.lookup_hash(phone, "phone")
    try:
        verdict = redis_store.client.eval(
            _VERIFY,
            1,
            _CODE_KEY.format(phone_hash),
            _digest(phone_hash, code),
            current_app.config["SMS_CODE_MAX_TRIES"],
        )
    except redis.RedisError as error:
        log.error("sms login failed, redis failed: %s", error)
        raise SmsDown() from None
    if verdict != 1:
        raise InvalidLoginCode("验证码错误或已失效，请重新获取")
    return auth.finish_login(lambda: _account_by_phone(phone, phone_hash))


def _account_by_phone(phone, phone_hash):
    found = db.session.scalar(sa.select(Account).where(Account.phone_hash == phone_hash))
    if found is not None:
        return found, False
    return auth.create_account(
        Account(**auth.phone_fields(phone)), Account.phone_hash == phone_hash
    )
