"""The WeChat API stand-in: login, access tokens, phone numbers and subscription messages.

Wire endpoints answer as api.weixin.qq.com does: JSON, and on failure HTTP 200 with
``{"errcode", "errmsg"}``. The credentials it accepts are the app's own WECHAT_APPID and
WECHAT_SECRET. A subscription message is judged as WeChat judges it: against the templates in
SANDBOX_WECHAT_TEMPLATE_LIBRARY, WeChat's value rules per keyword type and the pages of the
mini-program's app.json. Control endpoints (login-code, phone-code, consents, messages,
expire-token) let a test or a demo act as the patient's phone and see what WeChat received. All
state lives in Redis under ``sandbox:wechat:`` with TTLs, so every worker process sees the same
codes, tokens and messages.
"""

import base64
import functools
import json
import re
import secrets
import time
from pathlib import Path

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
# The mini-program whose pages a subscription message may open (41030 otherwise).
MINIPROGRAM_APP_JSON = Path(__file__).resolve().parents[2] / "miniprogram" / "src" / "app.json"

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
INVALID_TEMPLATE_ID = (40037, "invalid template_id")
INVALID_PAGE = (41030, "invalid page")
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

# subscribeMessage.send: the value rules per keyword type ("thing2" is of type thing), from
# WeChat's "订阅消息参数值内容限制说明" (developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/
# mp-message-management/subscribe-message/sendMessage.html, 其他说明). Digits and letters are ASCII;
# "Chinese" is the CJK ideographs.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff"
_DAY = (  # 2019年10月1日 (as the docs show it, 2015年01月05日 too) or 2019-10-01
    r"[0-9]{4}(?:年(?:0?[1-9]|1[0-2])月(?:0?[1-9]|[12][0-9]|3[01])日"
    r"|-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01]))"
)
_CLOCK = r"(?:[01]?[0-9]|2[0-3]):[0-5][0-9]"  # 24-hour, no seconds
_TIME_POINT = rf"(?:{_DAY} )?{_CLOCK}"
_DATE_POINT = rf"{_DAY}(?: {_CLOCK})?"
_DIGITS = re.compile(r"[0-9]")


def _shape(pattern, most=None, most_digits=None):
    """A value rule: the whole value matches ``pattern``, within ``most`` characters and
    ``most_digits`` digits."""
    compiled = re.compile(pattern)

    def allows(value):
        return (
            compiled.fullmatch(value) is not None
            and (most is None or len(value) <= most)
            and (most_digits is None or len(_DIGITS.findall(value)) <= most_digits)
        )

    return allows


def _name_allows(value):
    # 10 Chinese characters, or 20 letters or symbols; Chinese mixed with letters counts as a
    # Chinese name. Digits are neither: WeChat refuses "用户410774" as a name.
    if _DIGITS.search(value):
        return False
    return len(value) <= (20 if value.isascii() else 10)


_VALUE_RULES = {
    "thing": _shape(r".+", most=20),  # 20 characters of any kind
    "number": _shape(r"[0-9]+(?:\.[0-9]+)?", most_digits=32),
    "letter": _shape(r"[A-Za-z]+", most=32),
    "symbol": _shape(rf"[^A-Za-z0-9{_CJK}\s]+", most=5),
    "character_string": _shape(r"[!-~]+", most=32),  # digits, letters, symbols; no Chinese
    "time": _shape(rf"{_TIME_POINT}(?:~{_TIME_POINT})?"),  # 15:01, 2019年10月1日 15:01, 15:01~16:00
    "date": _shape(rf"{_DATE_POINT}(?:~{_DATE_POINT})?"),  # 2019年10月1日, 2019年10月1日 15:01
    "amount": _shape(r"[¥￥$€£][0-9]+(?:\.[0-9]+)?元?", most_digits=10),  # one currency sign
    "phone_number": _shape(r"[0-9!-/:-@\[-`{-~]+", most=17),  # +86-0766-66888866
    "car_number": _shape(rf"[{_CJK}A-Za-z0-9](?:[A-Za-z0-9]*[{_CJK}A-Za-z0-9])?", most=8),
    "name": _name_allows,
    "phrase": _shape(rf"[{_CJK}]+", most=5),  # 5 Chinese characters only: 配送中
}
_KEYWORD = re.compile(r"([a-z_]+?)[0-9]+")


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
    """subscribeMessage.send: judge the message as WeChat does, then spend one consent of
    (touser, template_id) and record it."""
    if error := _token_error():
        return error
    body = _wire_json()
    if body is None:
        return _fail(DATA_FORMAT_ERROR)
    touser, template_id = body.get("touser"), body.get("template_id")
    state = body.get("miniprogram_state", "formal")
    lang = body.get("lang", "zh_CN")
    if not isinstance(touser, str) or not OPENID.fullmatch(touser):
        return _fail(INVALID_OPENID)
    library = current_app.config["SANDBOX_WECHAT_TEMPLATE_LIBRARY"]
    keywords = library.get(template_id) if isinstance(template_id, str) else None
    if keywords is None:
        return _fail(INVALID_TEMPLATE_ID)
    if problem := _data_problem(keywords, body.get("data")):
        return _fail(ARGUMENT_INVALID, problem)
    if state not in MINIPROGRAM_STATES:
        return _fail(ARGUMENT_INVALID, "miniprogram_state invalid")
    if lang not in LANGS:
        return _fail(ARGUMENT_INVALID, "lang invalid")
    if not _page_exists(body.get("page")):
        return _fail(INVALID_PAGE)
    # WeChat documents no order among its refusals; the consent comes last, so that a message
    # refused for what it says spends none.
    client = redis_store.client
    if not client.eval(_SPEND_CONSENT, 1, _key("consent", touser, template_id)):
        return _fail(USER_REFUSED)
    msgid = client.incr(_key("msgid"))
    message = {
        "msgid": msgid,
        "touser": touser,
        "template_id": template_id,
        "title": current_app.config["SANDBOX_WECHAT_TEMPLATE_TITLES"].get(template_id, ""),
        "page": body.get("page"),
        "data": body["data"],
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


def _data_problem(keywords, data):
    """What WeChat's 47003 names in ``data`` for a template of ``keywords`` ({keyword: None, or
    the values an enum keyword allows}), or None.

    WeChat words it "data.thing1.value is empty" for a keyword left out, blank or not given as
    {"value": ...} (even when all of ``data`` came as one JSON string), and "data.thing1.value
    invalid" for a value its type refuses: errmsgs quoted on developers.weixin.qq.com/community,
    where WeChat adds " rid: ...". Its docs say nothing of keywords the template lacks; they are
    refused here, as the app has no reason to send one.
    """
    data = data if isinstance(data, dict) else {}
    for name, allowed in keywords.items():
        item = data.get(name)
        value = item.get("value") if isinstance(item, dict) else None
        if value is None or value == "":
            return f"data.{name}.value is empty"
        if not isinstance(value, str) or not _value_allowed(name, allowed, value):
            return f"data.{name}.value invalid"
    for name in data:
        if name not in keywords:
            return f"data.{name} invalid"
    return None


def _value_allowed(name, allowed, value):
    if allowed is not None:  # an enum keyword: only the values the template lists
        return value in allowed
    match = _KEYWORD.fullmatch(name)
    rule = _VALUE_RULES.get(match.group(1)) if match else None
    return rule is not None and rule(value)


def _page_exists(page):
    """Whether a tap may open ``page``: none given, or a page of the mini-program's app.json with
    an optional ?query. WeChat answers 41030 for a page not in the released version (its docs),
    and for one with a leading "/" (developers.weixin.qq.com/community)."""
    if page is None or page == "":
        return True
    pages = _miniprogram_pages(MINIPROGRAM_APP_JSON)
    if pages is None:  # no mini-program source beside the app: nothing to judge by
        return True
    return isinstance(page, str) and page.split("?", 1)[0] in pages


@functools.cache
def _miniprogram_pages(app_json):
    """The pages ``app_json`` declares, ``pages`` and each subpackage's root/pages; read once."""
    try:
        manifest = json.loads(app_json.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    pages = set(manifest.get("pages", []))
    for package in manifest.get("subPackages", manifest.get("subpackages", [])):
        pages.update(f"{package['root'].strip('/')}/{page}" for page in package["pages"])
    return frozenset(pages)


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
