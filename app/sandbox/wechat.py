"""The WeChat API stand-in: login, access tokens, phone numbers and subscription messages.

Wire endpoints answer as api.weixin.qq.com does: JSON, and on failure HTTP 200 with
``{"errcode", "errmsg"}``. The credentials it accepts are the app's own WECHAT_APPID and
WECHAT_SECRET. Control endpoints (login-code, phone-code, consents, messages, expire-token) let a
test or a demo act as the patient's phone and see what WeChat received. All state lives in Redis
under ``sandbox:wechat:`` with TTLs, so every worker process sees the same codes, tokens and
messages.
"""

import base64
import json
import re
import secrets
import time

from flask import Blueprint, current_app, request

from app.errors import ValidationFailed
from app.extensions import redis_store

bp = Blueprint("sandbox_wechat", __name__)

PREFIX = "sandbox:wechat:"
CODE_SECONDS = 300  # wx.login and phone codes live 5 minutes
TOKEN_SECONDS = 7200
OLD_TOKEN_GRACE_SECONDS = 300  # cgi-bin/token: the previous token keeps working 5 more minutes
RECORD_SECONDS = 24 * 3600  # consents, messages and counters

OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")
TEMPLATE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
MAINLAND_MOBILE = re.compile(r"1[3-9]\d{9}")
MINIPROGRAM_STATES = ("developer", "trial", "formal")
LANGS = ("zh_CN", "en_US", "zh_HK", "zh_TW")

INVALID_APPID = (40013, "invalid appid")
INVALID_SECRET = (40125, "invalid appsecret")
INVALID_GRANT_TYPE = (40002, "invalid grant_type")
INVALID_CODE = (40029, "invalid code")
CODE_BEEN_USED = (40163, "code been used")
MISSING_CODE = (41008, "missing code")
INVALID_CREDENTIAL = (40001, "invalid credential, access_token is invalid or not latest")
MISSING_TOKEN = (41001, "access_token missing")
DATA_FORMAT_ERROR = (47001, "data format error")
ARGUMENT_INVALID = (47003, "argument invalid!")
INVALID_OPENID = (40003, "invalid openid")
USER_REFUSED = (43101, "user refuse to accept the msg")

# Take a one-time code: {0} unknown or expired, {1} already used, {2, payload} first use.
_TAKE_CODE = """
local payload = redis.call('HGET', KEYS[1], 'payload')
if not payload then return {0} end
if redis.call('HSETNX', KEYS[1], 'used', '1') == 0 then return {1} end
return {2, payload}
"""

# Spend one subscription consent if any is left: 1 spent, 0 none left.
_SPEND_CONSENT = """
local left = tonumber(redis.call('GET', KEYS[1]) or '0')
if left <= 0 then return 0 end
redis.call('DECR', KEYS[1])
return 1
"""

# Keyword types of subscription-message data ("thing1", "time2", ...): the most characters WeChat
# accepts and, where it checks one, the shape of the value. Beyond either it answers 47003.
_KEYWORD_RULES = {
    "thing": (20, None),
    "number": (32, re.compile(r"\d+(\.\d+)?")),
    "letter": (32, re.compile(r"[A-Za-z]+")),
    "symbol": (5, None),
    "character_string": (32, None),
    "time": (32, None),
    "date": (32, None),
    "amount": (32, re.compile(r"[¥￥]?\d+(\.\d{1,2})?元?")),
    "phone_number": (17, re.compile(r"[\d+()\- ]+")),
    "car_number": (8, None),
    "name": (20, None),
    "phrase": (5, None),
}
_KEYWORD = re.compile(r"([a-z_]+?)(\d+)")


def _key(*parts):
    return PREFIX + ":".join(str(part) for part in parts)


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _fail(error, detail=None):
    errcode, errmsg = error
    return {"errcode": errcode, "errmsg": f"{errmsg} {detail}" if detail else errmsg}


def _same(given, expected):
    return bool(given) and secrets.compare_digest(str(given).encode(), expected.encode())


def _credentials_error(appid, secret):
    """The errcode WeChat gives for this appid/secret pair, or None when they are right."""
    config = current_app.config
    if not _same(appid, config["WECHAT_APPID"]):
        return _fail(INVALID_APPID)
    if not _same(secret, config["WECHAT_SECRET"]):
        return _fail(INVALID_SECRET)
    return None


def _wire_json():
    """The request body as a JSON object; wechatpy posts JSON without a Content-Type header."""
    body = request.get_json(force=True, silent=True)
    return body if isinstance(body, dict) else None


def _token_error():
    """The errcode for the request's access_token, or None when it is valid."""
    token = request.args.get("access_token")
    if not token:
        return _fail(MISSING_TOKEN)
    if not redis_store.client.exists(_key("token", token)):
        return _fail(INVALID_CREDENTIAL)
    return None


def _mint_code(kind, payload):
    code = secrets.token_hex(16)
    key = _key(kind, code)
    with redis_store.client.pipeline() as pipe:
        pipe.hset(key, "payload", json.dumps(payload))
        pipe.expire(key, CODE_SECONDS)
        pipe.execute()
    return code


def _take_code(kind, code):
    """(status, payload) for a one-time code: "unknown", "used" or "ok"."""
    reply = redis_store.client.eval(_TAKE_CODE, 1, _key(kind, code))
    status = ("unknown", "used", "ok")[int(reply[0])]
    return status, json.loads(_text(reply[1])) if status == "ok" else None


def _issue_token(appid):
    """A new access token for ``appid``, valid TOKEN_SECONDS, counted for tests."""
    token = secrets.token_urlsafe(96)
    client = redis_store.client
    with client.pipeline() as pipe:
        pipe.set(_key("token", token), appid, ex=TOKEN_SECONDS)
        pipe.sadd(_key("tokens", appid), token)
        pipe.expire(_key("tokens", appid), TOKEN_SECONDS)
        pipe.incr(_key("stats", "tokens_issued"))
        pipe.expire(_key("stats", "tokens_issued"), RECORD_SECONDS)
        pipe.execute()
    return token


def _token_ttl(token):
    return redis_store.client.ttl(_key("token", _text(token))) if token else -2


# --- The wire protocol -------------------------------------------------------------------------


@bp.get("/sns/jscode2session")
def jscode2session():
    """auth.code2Session: a wx.login code → openid, session_key and, if any, unionid."""
    args = request.args
    if error := _credentials_error(args.get("appid"), args.get("secret")):
        return error
    if args.get("grant_type") != "authorization_code":
        return _fail(INVALID_GRANT_TYPE)
    if not args.get("js_code"):
        return _fail(MISSING_CODE)
    status, payload = _take_code("login_code", args["js_code"])
    if status == "unknown":
        return _fail(INVALID_CODE)
    if status == "used":
        return _fail(CODE_BEEN_USED)
    session = {
        "openid": payload["openid"],
        "session_key": base64.b64encode(secrets.token_bytes(16)).decode(),
    }
    if payload.get("unionid"):
        session["unionid"] = payload["unionid"]
    return session


@bp.get("/cgi-bin/token")
def token():
    """getAccessToken: a new token each call; the previous one works 5 more minutes."""
    args = request.args
    if args.get("grant_type") != "client_credential":
        return _fail(INVALID_GRANT_TYPE)
    appid = args.get("appid")
    if error := _credentials_error(appid, args.get("secret")):
        return error
    client = redis_store.client
    current = _key("access_token", appid)
    previous = client.get(current)
    issued = _issue_token(appid)
    client.set(current, issued, ex=TOKEN_SECONDS)
    if previous and _token_ttl(previous) > OLD_TOKEN_GRACE_SECONDS:
        client.expire(_key("token", _text(previous)), OLD_TOKEN_GRACE_SECONDS)
    return {"access_token": issued, "expires_in": TOKEN_SECONDS}


@bp.post("/cgi-bin/stable_token")
def stable_token():
    """getStableAccessToken: the same token while it is valid, a new one when forced."""
    body = _wire_json()
    if body is None:
        return _fail(DATA_FORMAT_ERROR)
    if body.get("grant_type") != "client_credential":
        return _fail(INVALID_GRANT_TYPE)
    appid = body.get("appid")
    if error := _credentials_error(appid, body.get("secret")):
        return error
    client = redis_store.client
    current = _key("stable_token", appid)
    existing = client.get(current)
    if existing and body.get("force_refresh") is not True:
        ttl = _token_ttl(existing)
        if ttl > 0:
            return {"access_token": _text(existing), "expires_in": ttl}
    if existing:  # forced, or the current one was expired: it stops working now
        client.delete(_key("token", _text(existing)), current)
    issued = _issue_token(appid)
    if not client.set(current, issued, ex=TOKEN_SECONDS, nx=True):
        # A concurrent caller issued one first: hand out that one, as WeChat keeps one current.
        winner = client.get(current)
        if winner and _token_ttl(winner) > 0:
            client.delete(_key("token", issued))
            return {"access_token": _text(winner), "expires_in": _token_ttl(winner)}
        client.set(current, issued, ex=TOKEN_SECONDS)
    return {"access_token": issued, "expires_in": TOKEN_SECONDS}


@bp.post("/wxa/business/getuserphonenumber")
def get_user_phone_number():
    """phonenumber.getPhoneNumber: a getPhoneNumber-button code → the user's phone number."""
    if error := _token_error():
        return error
    body = _wire_json()
    if body is None:
        return _fail(DATA_FORMAT_ERROR)
    if not body.get("code"):
        return _fail(MISSING_CODE)
    status, payload = _take_code("phone_code", str(body["code"]))
    if status != "ok":  # WeChat documents only 40029 here, for unknown and for spent codes alike
        return _fail(INVALID_CODE)
    phone = payload["phone"]
    return {
        "errcode": 0,
        "errmsg": "ok",
        "phone_info": {
            "phoneNumber": phone,  # mainland numbers come without the country code
            "purePhoneNumber": phone,
            "countryCode": "86",
            "watermark": {"timestamp": payload["timestamp"], "appid": payload["appid"]},
        },
    }


@bp.post("/cgi-bin/message/subscribe/send")
def subscribe_send():
    """subscribeMessage.send: spend one consent of (touser, template_id) and record the message."""
    if error := _token_error():
        return error
    body = _wire_json()
    if body is None:
        return _fail(DATA_FORMAT_ERROR)
    touser, template_id, data = body.get("touser"), body.get("template_id"), body.get("data")
    if not isinstance(template_id, str) or not TEMPLATE_ID.fullmatch(template_id):
        return _fail(ARGUMENT_INVALID, "template_id invalid")
    if not isinstance(data, dict) or not data:
        return _fail(ARGUMENT_INVALID, "data invalid")
    if not isinstance(touser, str) or not OPENID.fullmatch(touser):
        return _fail(INVALID_OPENID)
    state = body.get("miniprogram_state", "formal")
    lang = body.get("lang", "zh_CN")
    if state not in MINIPROGRAM_STATES:
        return _fail(ARGUMENT_INVALID, "miniprogram_state invalid")
    if lang not in LANGS:
        return _fail(ARGUMENT_INVALID, "lang invalid")
    if problem := _data_problem(data):
        return _fail(ARGUMENT_INVALID, problem)
    client = redis_store.client
    if not client.eval(_SPEND_CONSENT, 1, _key("consent", touser, template_id)):
        return _fail(USER_REFUSED)
    msgid = client.incr(_key("msgid"))
    message = {
        "msgid": msgid,
        "touser": touser,
        "template_id": template_id,
        "page": body.get("page"),
        "data": data,
        "miniprogram_state": state,
        "lang": lang,
        "sent_at": int(time.time()),
    }
    with client.pipeline() as pipe:
        pipe.rpush(_key("messages", touser), json.dumps(message, ensure_ascii=False))
        pipe.expire(_key("messages", touser), RECORD_SECONDS)
        pipe.expire(_key("msgid"), RECORD_SECONDS)
        pipe.execute()
    return {"errcode": 0, "errmsg": "ok", "msgid": msgid}


def _data_problem(data):
    """What WeChat would reject in subscription-message ``data``, or None."""
    for name, item in data.items():
        match = _KEYWORD.fullmatch(name)
        rule = _KEYWORD_RULES.get(match.group(1)) if match else None
        value = item.get("value") if isinstance(item, dict) else None
        if rule is None or not isinstance(value, str) or not value:
            return f"data.{name} invalid"
        limit, shape = rule
        if name.startswith("name") and not value.isascii():
            limit = 10  # names: 10 Chinese characters or 20 letters
        if len(value) > limit or (shape and not shape.fullmatch(value)):
            return f"data.{name}.value invalid"
    return None


# --- Control endpoints: the patient's phone, and what WeChat saw --------------------------------


def _control_json():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed({"_schema": ["请以 JSON 对象提交"]})
    return body


def _openid(value, field="openid"):
    if not isinstance(value, str) or not OPENID.fullmatch(value):
        raise ValidationFailed({field: ["须为 1–64 位字母、数字、下划线或连字符"]})
    return value


@bp.post("/login-code")
def login_code():
    """What wx.login gives the phone of user ``openid``: a one-time code valid 5 minutes."""
    body = _control_json()
    payload = {"openid": _openid(body.get("openid"))}
    if body.get("unionid") is not None:
        payload["unionid"] = _openid(body["unionid"], "unionid")
    return {"code": _mint_code("login_code", payload)}


@bp.post("/phone-code")
def phone_code():
    """What the getPhoneNumber button gives: a one-time code for ``phone``, valid 5 minutes."""
    phone = _control_json().get("phone")
    if not isinstance(phone, str) or not MAINLAND_MOBILE.fullmatch(phone):
        raise ValidationFailed({"phone": ["须为 11 位中国大陆手机号"]})
    payload = {
        "phone": phone,
        "timestamp": int(time.time()),
        "appid": current_app.config["WECHAT_APPID"],
    }
    return {"code": _mint_code("phone_code", payload)}


@bp.post("/consents")
def consents():
    """What wx.requestSubscribeMessage records when the user taps 允许: ``count`` sends allowed."""
    body = _control_json()
    openid = _openid(body.get("openid"))
    template_id = body.get("template_id")
    if not isinstance(template_id, str) or not TEMPLATE_ID.fullmatch(template_id):
        raise ValidationFailed({"template_id": ["须为订阅消息模板 ID"]})
    count = body.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 100:
        raise ValidationFailed({"count": ["须为 1–100 的整数"]})
    key = _key("consent", openid, template_id)
    with redis_store.client.pipeline() as pipe:
        pipe.incrby(key, count)
        pipe.expire(key, RECORD_SECONDS)
        left, _ = pipe.execute()
    return {"openid": openid, "template_id": template_id, "remaining": left}


@bp.get("/messages")
def messages():
    """The subscription messages WeChat accepted for ``openid``, oldest first."""
    openid = _openid(request.args.get("openid"))
    items = redis_store.client.lrange(_key("messages", openid), 0, -1)
    return {"items": [json.loads(item) for item in items]}


@bp.post("/expire-token")
def expire_token():
    """Invalidate every access token issued to the app, as when WeChat revokes them."""
    appid = current_app.config["WECHAT_APPID"]
    client = redis_store.client
    tokens = [_text(token) for token in client.smembers(_key("tokens", appid))]
    client.delete(
        _key("tokens", appid),
        _key("stable_token", appid),
        _key("access_token", appid),
        *(_key("token", token) for token in tokens),
    )
    return "", 204
