"""The WeChat Pay APIv3 stand-in: JSAPI payments, refunds, trade bills and signed notifications.

Wire endpoints answer as https://api.mch.weixin.qq.com does, under this blueprint's mount point
(WECHATPAY_API_BASE points here off production). Every request must carry the merchant's
``WECHATPAY2-SHA256-RSA2048`` Authorization: mchid WECHATPAY_MCHID, serial
WECHATPAY_MERCHANT_SERIAL_NO, a timestamp within 5 minutes, and an RSA-SHA256 signature that
verifies under the public half of WECHATPAY_MERCHANT_PRIVATE_KEY (WeChat holds the merchant's
uploaded public key). Failures answer ``{"code", "message"}`` with WeChat's HTTP statuses and codes.
Every answer except a bill file download (WeChat leaves those unsigned) is signed as WeChat Pay
signs in public-key mode: Wechatpay-Timestamp, -Nonce, -Serial (WECHATPAY_PUBLIC_KEY_ID),
-Signature (SANDBOX_WECHATPAY_PLATFORM_PRIVATE_KEY) and -Signature-Type headers.

Control endpoints let a test or a demo act as the payer and as WeChat's notifier: pay (and send
the TRANSACTION.SUCCESS notification, or lose it), settle a refund (REFUND.* notification),
redeliver the last notification, send a deliberately broken one, corrupt the next bill download,
and inspect a transaction. Notifications go only to loopback URLs (127.0.0.1, localhost, ::1), so
the stand-in never calls out; they are sent synchronously, so the app must serve requests
concurrently (the dev server and the e2e server do).

State lives in Redis under ``sandbox:wechatpay:`` for RECORD_SECONDS, so every worker process sees
the same transactions, refunds and bills.
"""

import gzip
import hashlib
import json
import re
import secrets
import time
import uuid
from datetime import date
from urllib.parse import quote, urlsplit

import requests
from flask import Blueprint, current_app, request, url_for
from redis.exceptions import LockError

from app.domain.clock import CHINA_TZ
from app.domain.clock import now as china_now
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import redis_store
from app.protocols import wechatpay as protocol

bp = Blueprint("sandbox_wechatpay", __name__)

PREFIX = "sandbox:wechatpay:"
RECORD_SECONDS = 3 * 24 * 3600
BILL_URL_SECONDS = 300  # WeChat's download_url is valid 5 minutes
NOTIFY_TIMEOUT_SECONDS = 5
MAX_REDELIVERIES = 10
DELIVERIES_KEPT = 50
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
FEE_RATE_TEXT = "0.60%"
FEE_RATE_PER_MILLE = 6
USER_RECEIVED_ACCOUNT = "支付用户零钱"

OUT_TRADE_NO = re.compile(r"[A-Za-z0-9_\-|*]{6,32}")
OUT_REFUND_NO = re.compile(r"[A-Za-z0-9_\-|*@]{1,64}")
TRANSACTION_ID = re.compile(r"\d{1,32}")
BILL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

NOTPAY, SUCCESS, CLOSED, REFUND = "NOTPAY", "SUCCESS", "CLOSED", "REFUND"
PAYERROR = "PAYERROR"
TRADE_STATE_DESC = {
    NOTPAY: "订单未支付",
    SUCCESS: "支付成功",
    CLOSED: "订单已关闭",
    REFUND: "订单发生过退款",
    PAYERROR: "支付失败，请重新下单支付",
}
PROCESSING, ABNORMAL = "PROCESSING", "ABNORMAL"
REFUND_SETTLEMENTS = {SUCCESS: "退款成功", ABNORMAL: "退款异常", CLOSED: "退款关闭"}
TAMPERS = ("signature", "amount", "timestamp", "serial", "resource")

# Bill columns (交易账单, "ALL", "SUCCESS" and "REFUND"), as WeChat Pay documents them.
_ALL_COLUMNS = [
    "交易时间",
    "公众账号ID",
    "商户号",
    "特约商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "货币种类",
    "应结订单金额",
    "代金券金额",
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "充值券退款金额",
    "退款类型",
    "退款状态",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "订单金额",
    "申请退款金额",
    "费率备注",
]
_SUCCESS_COLUMNS = [
    column
    for column in _ALL_COLUMNS
    if column
    not in (
        "微信退款单号",
        "商户退款单号",
        "退款金额",
        "充值券退款金额",
        "退款类型",
        "退款状态",
        "申请退款金额",
    )
]
_REFUND_COLUMNS = [
    *_ALL_COLUMNS[: _ALL_COLUMNS.index("微信退款单号")],
    "退款申请时间",
    "退款成功时间",
    *_ALL_COLUMNS[_ALL_COLUMNS.index("微信退款单号") :],
]
_ALL_SUMMARY = (
    "总交易单数",
    "应结订单总金额",
    "退款总金额",
    "充值券退款总金额",
    "手续费总金额",
    "订单总金额",
    "申请退款总金额",
)
_SUCCESS_SUMMARY = ("总交易单数", "应结订单总金额", "手续费总金额", "订单总金额")
BILL_FORMATS = {
    "ALL": (_ALL_COLUMNS, _ALL_SUMMARY, ("trade", "refund")),
    "SUCCESS": (_SUCCESS_COLUMNS, _SUCCESS_SUMMARY, ("trade",)),
    "REFUND": (_REFUND_COLUMNS, _ALL_SUMMARY, ("refund",)),
}


class _Refused(Exception):
    """The request is refused as WeChat Pay refuses it: HTTP ``status``, ``code``, ``message``."""

    def __init__(self, status, code, message, detail=None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.detail = status, code, message, detail


def _remember_mount(state):
    # Signatures cover the URL as WeChat Pay's host sees it: the path under this mount point.
    state.app.extensions["sandbox_wechatpay_mount"] = state.url_prefix or ""


bp.record_once(_remember_mount)


def _key(*parts):
    return PREFIX + ":".join(str(part) for part in parts)


def _dumps(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _now():
    return china_now().replace(microsecond=0)


def _platform_key():
    return protocol.load_private_key(current_app.config["SANDBOX_WECHATPAY_PLATFORM_PRIVATE_KEY"])


def _answer(status, body=None):
    """A response signed as WeChat Pay signs it; ``body`` None means an empty body (204)."""
    payload = b"" if body is None else _dumps(body).encode()
    headers = protocol.signature_headers(
        _platform_key(), current_app.config["WECHATPAY_PUBLIC_KEY_ID"], payload
    )
    headers["Request-ID"] = str(uuid.uuid4())
    response = current_app.response_class(payload, status=status, headers=headers)
    if body is None:
        response.headers.pop("Content-Type", None)
    else:
        response.content_type = "application/json; charset=utf-8"
    return response


@bp.errorhandler(_Refused)
def _refused(refused):
    body = {"code": refused.code, "message": refused.message}
    if refused.detail:
        body["detail"] = refused.detail
    return _answer(refused.status, body)


def _param_error(field, message, location="body"):
    return _Refused(
        400, "PARAM_ERROR", message, {"field": field, "location": location, "issue": message}
    )


# --- Records in Redis ----------------------------------------------------------------------------


def _load(kind, number):
    raw = redis_store.client.get(_key(kind, number))
    return json.loads(raw) if raw else None


def _save(kind, number, record):
    redis_store.client.set(_key(kind, number), _dumps(record), ex=RECORD_SECONDS)


def _lock(out_trade_no):
    """One writer per transaction and its refunds, across processes."""
    return redis_store.client.lock(_key("lock", out_trade_no), timeout=10, blocking_timeout=5)


def _index_day(moment, member):
    """Put ``member`` ("trade:…" / "refund:…") on the bill of ``moment``'s date in China."""
    key = _key("day", moment.astimezone(CHINA_TZ).date().isoformat())
    with redis_store.client.pipeline() as pipe:
        pipe.zadd(key, {member: moment.timestamp()})
        pipe.expire(key, RECORD_SECONDS)
        pipe.execute()


# --- Request authentication ----------------------------------------------------------------------


def _signed_url():
    """The request target as the merchant signed it: path and query under the mount point."""
    environ = request.environ
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not raw:
        query = request.query_string.decode()
        raw = quote(request.script_root + request.path) + (f"?{query}" if query else "")
    if "://" in raw.split("?", 1)[0]:  # absolute-form request target
        rest = raw.split("://", 1)[1]
        raw = rest[rest.find("/") :] if "/" in rest else "/"
    mount = request.script_root + current_app.extensions.get("sandbox_wechatpay_mount", "")
    return raw[len(mount) :] if mount and raw.startswith(mount) else raw


def _authenticate():
    """Refuse the request unless it is signed by our merchant as WeChat Pay requires."""
    config = current_app.config
    try:
        credential = protocol.parse_authorization(request.headers.get("Authorization"))
    except protocol.MalformedAuthorization as exc:
        raise _Refused(401, "SIGN_ERROR", f"Authorization 格式错误：{exc.reason}") from None
    if not secrets.compare_digest(credential.mchid.encode(), config["WECHATPAY_MCHID"].encode()):
        raise _Refused(401, "SIGN_ERROR", "商户号不存在或未开通 APIv3")
    serial = config["WECHATPAY_MERCHANT_SERIAL_NO"].encode()
    if not secrets.compare_digest(credential.serial_no.upper().encode(), serial.upper()):
        raise _Refused(401, "SIGN_ERROR", "商户证书序列号有误，请检查 serial_no")
    if abs(time.time() - int(credential.timestamp)) > protocol.MAX_CLOCK_SKEW_SECONDS:
        raise _Refused(401, "SIGN_ERROR", "请求时间戳与微信支付服务器时间相差超过 5 分钟")
    merchant_key = protocol.public_key_of(config["WECHATPAY_MERCHANT_PRIVATE_KEY"])
    body = request.get_data(cache=True)
    if not protocol.verify_authorization(
        credential, merchant_key, request.method, _signed_url(), body
    ):
        raise _Refused(401, "SIGN_ERROR", "签名错误，请检查签名参数和方法是否符合签名算法要求")
    serial_header = request.headers.get(protocol.SERIAL_HEADER)
    if serial_header and serial_header != config["WECHATPAY_PUBLIC_KEY_ID"]:
        raise _Refused(400, "INVALID_REQUEST", "Wechatpay-Serial 不是有效的微信支付公钥ID")
    return credential


def _wire_json():
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
    except (UnicodeDecodeError, ValueError):
        raise _Refused(400, "PARAM_ERROR", "请求体不是合法的 JSON") from None
    if not isinstance(body, dict):
        raise _Refused(400, "PARAM_ERROR", "请求体须为 JSON 对象")
    return body


def _check_mchid(value, location="body"):
    if value is None:
        raise _param_error("mchid", "缺少参数 mchid", location)
    if value != current_app.config["WECHATPAY_MCHID"]:
        raise _param_error("mchid", "mchid 与请求头中的商户号不一致", location)


def _check_out_trade_no(value, location="body"):
    if not isinstance(value, str) or not OUT_TRADE_NO.fullmatch(value):
        raise _param_error("out_trade_no", "out_trade_no 须为 6–32 位数字、字母或 _-|*", location)
    return value


def _whole_fen(value, field, minimum=1):
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise _param_error(field, f"{field} 须为不小于 {minimum} 的整数（单位：分）")
    return value


def _currency(amount):
    currency = amount.get("currency", "CNY")
    if currency != "CNY":
        raise _param_error("amount.currency", "境内商户仅支持 CNY")
    return currency


def _notify_url(value, required=True):
    if value is None and not required:
        return None
    parts = urlsplit(value) if isinstance(value, str) else None
    if (
        parts is None
        or len(value) > 255
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.query
    ):
        raise _param_error("notify_url", "notify_url 须为不带参数、不超过 255 字符的 http(s) 地址")
    return value


# --- Views of records, as WeChat Pay shows them ---------------------------------------------------


def _transaction_view(trade, state=None):
    """The transaction as the query API and the payment notification show it."""
    state = state or trade["trade_state"]
    view = {
        "appid": trade["appid"],
        "mchid": trade["mchid"],
        "out_trade_no": trade["out_trade_no"],
        "trade_type": "JSAPI",
        "trade_state": state,
        "trade_state_desc": TRADE_STATE_DESC[state],
        "attach": trade.get("attach") or "",
    }
    total = trade["amount"]["total"]
    if trade.get("transaction_id"):
        view |= {
            "transaction_id": trade["transaction_id"],
            "bank_type": "OTHERS",
            "success_time": trade["success_time"],
            "payer": {"openid": trade["payer"]["openid"]},
            "amount": {
                "total": total,
                "payer_total": total,
                "currency": "CNY",
                "payer_currency": "CNY",
            },
        }
    else:
        view["amount"] = {"total": total, "currency": "CNY", "payer_currency": "CNY"}
    view["promotion_detail"] = []
    return view


def _refund_view(refund):
    """The refund as the refund APIs show it."""
    amount = refund["amount"]
    view = {
        "refund_id": refund["refund_id"],
        "out_refund_no": refund["out_refund_no"],
        "transaction_id": refund["transaction_id"],
        "out_trade_no": refund["out_trade_no"],
        "channel": "ORIGINAL",
        "user_received_account": USER_RECEIVED_ACCOUNT,
        "create_time": refund["create_time"],
        "status": refund["status"],
        "funds_account": "AVAILABLE",
        "amount": {
            "total": amount["total"],
            "refund": amount["refund"],
            "from": [],
            "payer_total": amount["total"],
            "payer_refund": amount["refund"],
            "settlement_refund": amount["refund"],
            "settlement_total": amount["total"],
            "discount_refund": 0,
            "currency": "CNY",
            "refund_fee": 0,
        },
        "promotion_detail": [],
    }
    if refund.get("success_time"):
        view["success_time"] = refund["success_time"]
    return view


def _refund_notice(refund):
    """The decrypted resource of a REFUND.* notification."""
    amount = refund["amount"]
    notice = {
        "mchid": current_app.config["WECHATPAY_MCHID"],
        "out_trade_no": refund["out_trade_no"],
        "transaction_id": refund["transaction_id"],
        "out_refund_no": refund["out_refund_no"],
        "refund_id": refund["refund_id"],
        "refund_status": refund["status"],
        "user_received_account": USER_RECEIVED_ACCOUNT,
        "amount": {
            "total": amount["total"],
            "refund": amount["refund"],
            "payer_total": amount["total"],
            "payer_refund": amount["refund"],
        },
    }
    if refund.get("success_time"):
        notice["success_time"] = refund["success_time"]
    return notice


def _trade_or_404(out_trade_no):
    trade = _load("trade", out_trade_no)
    if trade is None:
        raise _Refused(404, "ORDER_NOT_EXIST", "订单不存在")
    return trade


# --- The wire protocol: payments -----------------------------------------------------------------


@bp.post("/v3/pay/transactions/jsapi")
def jsapi_prepay():
    """JSAPI prepay: a prepay_id; the same out_trade_no with the same parameters, the same one."""
    _authenticate()
    body = _wire_json()
    config = current_app.config
    if body.get("appid") != config["WECHAT_APPID"]:
        raise _Refused(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
    _check_mchid(body.get("mchid"))
    description = body.get("description")
    if not isinstance(description, str) or not 1 <= len(description.encode()) <= 127:
        raise _param_error("description", "description 须为 1–127 字节的字符串")
    out_trade_no = _check_out_trade_no(body.get("out_trade_no"))
    _notify_url(body.get("notify_url"))
    amount = body.get("amount")
    if not isinstance(amount, dict):
        raise _param_error("amount", "缺少参数 amount")
    _whole_fen(amount.get("total"), "amount.total")
    _currency(amount)
    payer = body.get("payer")
    openid = payer.get("openid") if isinstance(payer, dict) else None
    if not isinstance(openid, str) or not 1 <= len(openid) <= 128:
        raise _param_error("payer.openid", "缺少参数 payer.openid")
    if body.get("time_expire") is not None:
        try:
            expires = protocol.parse_time(body["time_expire"])
        except ValueError:
            raise _param_error("time_expire", "time_expire 须为 RFC3339 格式") from None
        if expires <= _now():
            raise _param_error("time_expire", "time_expire 须晚于当前时间")
    attach = body.get("attach")
    if attach is not None and (not isinstance(attach, str) or len(attach.encode()) > 128):
        raise _param_error("attach", "attach 须为不超过 128 字节的字符串")
    fingerprint = hashlib.sha256(_dumps(body).encode()).hexdigest()
    try:
        with _lock(out_trade_no):
            trade = _load("trade", out_trade_no)
            if trade is not None:
                return _answer(200, {"prepay_id": _repeat_prepay(trade, fingerprint)})
            now = _now()
            trade = {
                "appid": body["appid"],
                "mchid": body["mchid"],
                "description": description,
                "out_trade_no": out_trade_no,
                "time_expire": body.get("time_expire"),
                "notify_url": body["notify_url"],
                "attach": attach,
                "amount": {"total": amount["total"], "currency": "CNY"},
                "payer": {"openid": openid},
                "fingerprint": fingerprint,
                "prepay_id": "wx" + now.strftime("%Y%m%d%H%M%S") + secrets.token_hex(10),
                "created_at": protocol.format_time(now),
                "trade_state": NOTPAY,
                "refunds": [],
            }
            _save("trade", out_trade_no, trade)
    except LockError:
        raise _Refused(500, "SYSTEM_ERROR", "系统繁忙，请稍后重试") from None
    return _answer(200, {"prepay_id": trade["prepay_id"]})


def _repeat_prepay(trade, fingerprint):
    """The prepay_id for a second prepay of a known out_trade_no, or WeChat's refusal."""
    state = trade["trade_state"]
    if state in (SUCCESS, REFUND):
        raise _Refused(400, "ORDERPAID", "该订单已支付")
    if state == CLOSED:
        raise _Refused(400, "ORDER_CLOSED", "订单已关闭")
    if trade["fingerprint"] != fingerprint:
        # WeChat compares every parameter of the first prepay; any difference is this error.
        raise _Refused(400, "INVALID_REQUEST", "201 商户订单号重复")
    return trade["prepay_id"]


@bp.get("/v3/pay/transactions/out-trade-no/<out_trade_no>")
def query_by_out_trade_no(out_trade_no):
    """Query a transaction by the merchant's out_trade_no."""
    _authenticate()
    _check_mchid(request.args.get("mchid"), "query")
    _check_out_trade_no(out_trade_no, "path")
    return _answer(200, _transaction_view(_trade_or_404(out_trade_no)))


@bp.get("/v3/pay/transactions/id/<transaction_id>")
def query_by_transaction_id(transaction_id):
    """Query a paid transaction by WeChat's transaction_id."""
    _authenticate()
    _check_mchid(request.args.get("mchid"), "query")
    if not TRANSACTION_ID.fullmatch(transaction_id):
        raise _param_error("transaction_id", "transaction_id 格式错误", "path")
    out_trade_no = redis_store.client.get(_key("transaction_id", transaction_id))
    if out_trade_no is None:
        raise _Refused(404, "ORDER_NOT_EXIST", "订单不存在")
    return _answer(200, _transaction_view(_trade_or_404(out_trade_no.decode())))


@bp.post("/v3/pay/transactions/out-trade-no/<out_trade_no>/close")
def close(out_trade_no):
    """Close an unpaid transaction: 204; closing a closed one again is also 204."""
    _authenticate()
    _check_out_trade_no(out_trade_no, "path")
    _check_mchid(_wire_json().get("mchid"))
    try:
        with _lock(out_trade_no):
            trade = _trade_or_404(out_trade_no)
            if trade["trade_state"] in (SUCCESS, REFUND):
                raise _Refused(400, "ORDERPAID", "订单已支付，不能关闭")
            if trade["trade_state"] == NOTPAY:
                trade["trade_state"] = CLOSED
                _save("trade", out_trade_no, trade)
    except LockError:
        raise _Refused(500, "SYSTEM_ERROR", "系统繁忙，请稍后重试") from None
    return _answer(204)


# --- The wire protocol: refunds ------------------------------------------------------------------


@bp.post("/v3/refund/domestic/refunds")
def create_refund():
    """Apply for a refund of a paid transaction; it starts PROCESSING (see refund-result)."""
    _authenticate()
    body = _wire_json()
    out_refund_no = body.get("out_refund_no")
    if not isinstance(out_refund_no, str) or not OUT_REFUND_NO.fullmatch(out_refund_no):
        raise _param_error("out_refund_no", "out_refund_no 须为 1–64 位数字、字母或 _-|*@")
    out_trade_no = body.get("out_trade_no")
    if out_trade_no is None and isinstance(body.get("transaction_id"), str):
        found = redis_store.client.get(_key("transaction_id", body["transaction_id"]))
        out_trade_no = found.decode() if found else None
        if out_trade_no is None:
            raise _Refused(404, "RESOURCE_NOT_EXISTS", "订单不存在")
    _check_out_trade_no(out_trade_no)
    amount = body.get("amount")
    if not isinstance(amount, dict):
        raise _param_error("amount", "缺少参数 amount")
    wanted = _whole_fen(amount.get("refund"), "amount.refund")
    total = _whole_fen(amount.get("total"), "amount.total")
    _currency(amount)
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 80):
        raise _param_error("reason", "reason 须为不超过 80 个字符的字符串")
    notify_url = _notify_url(body.get("notify_url"), required=False)
    try:
        with _lock(out_trade_no):
            trade = _load("trade", out_trade_no)
            if trade is None:
                raise _Refused(404, "RESOURCE_NOT_EXISTS", "订单不存在")
            existing = _load("refund", out_refund_no)
            if existing is not None:
                same = (
                    existing["out_trade_no"] == out_trade_no
                    and existing["amount"]["refund"] == wanted
                    and existing["amount"]["total"] == total
                )
                if not same:
                    raise _Refused(
                        400, "INVALID_REQUEST", "订单金额或退款金额与之前请求不一致，请核实后再试"
                    )
                return _answer(200, _refund_view(existing))
            if trade["trade_state"] not in (SUCCESS, REFUND):
                raise _Refused(400, "INVALID_REQUEST", "订单未支付或已关闭，不能退款")
            if total != trade["amount"]["total"]:
                raise _param_error("amount.total", "amount.total 与原订单金额不一致")
            if wanted > total - _refunded(trade):
                raise _Refused(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
            now = _now()
            refund = {
                "refund_id": "50" + f"{secrets.randbelow(10**27):027d}",
                "out_refund_no": out_refund_no,
                "transaction_id": trade["transaction_id"],
                "out_trade_no": out_trade_no,
                "reason": reason,
                "notify_url": notify_url or trade["notify_url"],
                "create_time": protocol.format_time(now),
                "status": PROCESSING,
                "amount": {"refund": wanted, "total": total, "currency": "CNY"},
            }
            _save("refund", out_refund_no, refund)
            trade["refunds"].append(out_refund_no)
            trade["trade_state"] = REFUND
            _save("trade", out_trade_no, trade)
            _index_day(now, f"refund:{out_refund_no}")
    except LockError:
        raise _Refused(500, "SYSTEM_ERROR", "系统繁忙，请稍后重试") from None
    return _answer(200, _refund_view(refund))


def _refunded(trade):
    """Fen already refunded or being refunded (closed refunds give their amount back)."""
    total = 0
    for out_refund_no in trade["refunds"]:
        refund = _load("refund", out_refund_no)
        if refund and refund["status"] != CLOSED:
            total += refund["amount"]["refund"]
    return total


@bp.get("/v3/refund/domestic/refunds/<out_refund_no>")
def query_refund(out_refund_no):
    """Query a refund by the merchant's out_refund_no."""
    _authenticate()
    if not OUT_REFUND_NO.fullmatch(out_refund_no):
        raise _param_error("out_refund_no", "out_refund_no 格式错误", "path")
    refund = _load("refund", out_refund_no)
    if refund is None:
        raise _Refused(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
    return _answer(200, _refund_view(refund))


# --- The wire protocol: trade bills --------------------------------------------------------------


@bp.get("/v3/bill/tradebill")
def trade_bill():
    """Apply for a day's trade bill: its download_url and the SHA1 of the (uncompressed) file."""
    _authenticate()
    args = request.args
    bill_date = args.get("bill_date", "")
    try:
        day = date.fromisoformat(bill_date) if BILL_DATE.fullmatch(bill_date) else None
    except ValueError:
        day = None
    if day is None:
        raise _param_error("bill_date", "bill_date 须为 yyyy-MM-DD 格式", "query")
    bill_type = args.get("bill_type", "ALL")
    if bill_type not in BILL_FORMATS:
        raise _param_error("bill_type", "沙箱支持的 bill_type：ALL、SUCCESS、REFUND", "query")
    tar_type = args.get("tar_type")
    if tar_type not in (None, "GZIP"):
        raise _param_error("tar_type", "tar_type 仅支持 GZIP", "query")
    if day > _now().date():
        raise _Refused(400, "INVALID_REQUEST", "账单日期不能晚于今天")
    content = _bill_content(day, bill_type)
    if content is None:
        raise _Refused(400, "NO_STATEMENT_EXIST", "账单文件不存在")
    token = secrets.token_urlsafe(32)
    key = _key("bill", token)
    with redis_store.client.pipeline() as pipe:
        pipe.hset(key, mapping={"content": content, "gzip": "1" if tar_type else ""})
        pipe.expire(key, BILL_URL_SECONDS)
        pipe.execute()
    return _answer(
        200,
        {
            "hash_type": "SHA1",
            "hash_value": hashlib.sha1(content, usedforsecurity=False).hexdigest(),
            "download_url": url_for(".download_bill", token=token, _external=True),
        },
    )


@bp.get("/v3/billdownload/file")
def download_bill():
    """Download a bill file by the token of its download_url (unsigned, as WeChat's downloads)."""
    _authenticate()
    stored = redis_store.client.hgetall(_key("bill", request.args.get("token", "")))
    if not stored:
        raise _Refused(400, "INVALID_REQUEST", "下载地址无效或已过期，请重新申请账单")
    content = stored[b"content"]
    if redis_store.client.getdel(_key("tamper_next_bill")):
        content = content.replace(b"`", b"`9", 1)  # one byte more: the hash no longer matches
    compressed = bool(stored[b"gzip"])
    if compressed:
        content = gzip.compress(content, mtime=0)
    response = current_app.response_class(content, status=200)
    response.headers["Request-ID"] = str(uuid.uuid4())
    response.content_type = "application/x-gzip" if compressed else "text/plain; charset=utf-8"
    return response


def _bill_content(day, bill_type):
    """The bill file of ``day`` in China, in WeChat's format; None when there is nothing in it."""
    columns, summary_columns, kinds = BILL_FORMATS[bill_type]
    members = redis_store.client.zrange(_key("day", day.isoformat()), 0, -1)
    rows = []
    for member in members:
        kind, number = member.decode().split(":", 1)
        if kind not in kinds:
            continue
        row = _bill_row(kind, number)
        if row is not None:
            rows.append(row)
    if not rows:
        return None
    sums = {
        "总交易单数": str(len(rows)),
        "应结订单总金额": _yuan(sum(row["_settled"] for row in rows)),
        "退款总金额": _yuan(sum(row["_refund"] for row in rows)),
        "充值券退款总金额": "0.00",
        "手续费总金额": _fee(sum(row["_fee"] for row in rows)),
        "订单总金额": _yuan(sum(row["_order"] for row in rows)),
        "申请退款总金额": _yuan(sum(row["_refund"] for row in rows)),
    }
    lines = [",".join(columns)]
    lines += [",".join("`" + row.get(column, "") for column in columns) for row in rows]
    lines.append(",".join(summary_columns))
    lines.append(",".join("`" + sums[column] for column in summary_columns))
    return ("\r\n".join(lines) + "\r\n").encode()


def _bill_row(kind, number):
    """One detail row: a payment ("trade") or a refund, keyed by column name."""
    if kind == "trade":
        trade = _load("trade", number)
        if trade is None or not trade.get("transaction_id"):
            return None
        refund, moment = None, trade["success_time"]
    else:
        refund = _load("refund", number)
        trade = refund and _load("trade", refund["out_trade_no"])
        if trade is None:
            return None
        moment = refund["create_time"]
    total = trade["amount"]["total"]
    settled = 0 if refund else total
    refunded = refund["amount"]["refund"] if refund else 0
    fee = 0 if refund else (total * FEE_RATE_PER_MILLE + 500) // 1000
    row = {
        "交易时间": _bill_time(moment),
        "公众账号ID": trade["appid"],
        "商户号": trade["mchid"],
        "特约商户号": "0",
        "设备号": "",
        "微信订单号": trade["transaction_id"],
        "商户订单号": trade["out_trade_no"],
        "用户标识": trade["payer"]["openid"],
        "交易类型": "JSAPI",
        "交易状态": REFUND if refund else SUCCESS,
        "付款银行": "OTHERS",
        "货币种类": "CNY",
        "应结订单金额": _yuan(settled),
        "代金券金额": "0.00",
        "微信退款单号": refund["refund_id"] if refund else "0",
        "商户退款单号": refund["out_refund_no"] if refund else "0",
        "退款金额": _yuan(refunded),
        "充值券退款金额": "0.00",
        "退款类型": "ORIGINAL" if refund else "",
        "退款状态": refund["status"] if refund else "",
        "商品名称": trade["description"],
        "商户数据包": trade.get("attach") or "",
        "手续费": _fee(fee),
        "费率": FEE_RATE_TEXT,
        "订单金额": _yuan(settled),
        "申请退款金额": _yuan(refunded),
        "费率备注": "",
        "_settled": settled,
        "_order": settled,
        "_refund": refunded,
        "_fee": fee,
    }
    if refund:
        row["退款申请时间"] = _bill_time(refund["create_time"])
        success_time = refund.get("success_time")
        row["退款成功时间"] = _bill_time(success_time) if success_time else ""
    return row


def _bill_time(rfc3339):
    return protocol.parse_time(rfc3339).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _yuan(fen):
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _fee(fen):
    return _yuan(fen) + "000"  # WeChat prints fees with five decimals, rounded to the fen


# --- Notifications -------------------------------------------------------------------------------


def _notification(event_type, summary, original_type, plaintext, *, apiv3_key=None):
    """A notification body: the event, with ``plaintext`` encrypted under the APIv3 key."""
    resource = protocol.encrypt_resource(
        apiv3_key or current_app.config["WECHATPAY_APIV3_KEY"],
        _dumps(plaintext).encode(),
        associated_data=original_type,
        original_type=original_type,
    )
    return {
        "id": str(uuid.uuid4()),
        "create_time": protocol.format_time(_now()),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary,
        "resource": resource,
    }


def _payment_notification(trade):
    return _notification(
        "TRANSACTION.SUCCESS", "支付成功", "transaction", _transaction_view(trade, SUCCESS)
    )


def _refund_notification(refund):
    status = refund["status"]
    return _notification(
        f"REFUND.{status}", REFUND_SETTLEMENTS[status], "refund", _refund_notice(refund)
    )


def _remember_notification(subject, url, notification):
    """Keep the last notification of ``subject`` ("trade:…" / "refund:…") for redelivery."""
    record = {"url": url, "body": _dumps(notification)}
    redis_store.client.set(_key("notification", subject), _dumps(record), ex=RECORD_SECONDS)


def _send(subject, url, body, headers=None):
    """POST a notification ``body`` (bytes) to ``url``, signed unless ``headers`` are given."""
    if headers is None:
        headers = protocol.signature_headers(
            _platform_key(), current_app.config["WECHATPAY_PUBLIC_KEY_ID"], body
        )
    outcome = {"at": protocol.format_time(_now()), "url": url}
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK_HOSTS:
        outcome |= {"delivered": False, "status_code": None, "error": "沙箱只向本机地址发送通知"}
    else:
        try:
            with requests.Session() as session:
                session.trust_env = False  # no proxy from the environment: loopback only
                response = session.post(
                    url,
                    data=body,
                    headers={**headers, "Content-Type": "application/json"},
                    timeout=NOTIFY_TIMEOUT_SECONDS,
                    allow_redirects=False,
                )
            delivered = response.status_code in (200, 204)  # WeChat retries anything else
            outcome |= {"delivered": delivered, "status_code": response.status_code}
        except requests.RequestException as exc:
            outcome |= {"delivered": False, "status_code": None, "error": type(exc).__name__}
    key = _key("deliveries", subject)
    with redis_store.client.pipeline() as pipe:
        pipe.rpush(key, _dumps(outcome))
        pipe.ltrim(key, -DELIVERIES_KEPT, -1)
        pipe.expire(key, RECORD_SECONDS)
        pipe.execute()
    return outcome


def _deliver_last(subject):
    record = _load("notification", subject)
    if record is None:
        raise Conflict("尚无可重发的通知", code="no_notification")
    return _send(subject, record["url"], record["body"].encode())


# --- Control endpoints: the payer, and WeChat's notifier -----------------------------------------


def _control_json():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed({"_schema": ["请以 JSON 对象提交"]})
    return body


def _control_trade(out_trade_no):
    if not isinstance(out_trade_no, str) or not OUT_TRADE_NO.fullmatch(out_trade_no):
        raise ValidationFailed({"out_trade_no": ["须为 6–32 位商户订单号"]})
    trade = _load("trade", out_trade_no)
    if trade is None:
        raise NotFound("微信支付沙箱中没有该订单")
    return trade


def _control_lock(out_trade_no):
    lock = _lock(out_trade_no)
    if not lock.acquire():
        raise Conflict("该订单正被处理，请稍后再试", code="busy")
    return lock


@bp.post("/pay")
def pay():
    """The payer pays ``out_trade_no``; the notification goes out unless ``notify`` is false.

    With ``fail`` true the payment fails instead (PAYERROR): WeChat sends no notification then.
    """
    body = _control_json()
    notify = body.get("notify", True)
    fail = body.get("fail", False)
    if not isinstance(notify, bool) or not isinstance(fail, bool):
        raise ValidationFailed({"notify": ["notify 与 fail 须为 true 或 false"]})
    trade = _control_trade(body.get("out_trade_no"))
    lock = _control_lock(trade["out_trade_no"])
    try:
        trade = _control_trade(trade["out_trade_no"])
        if trade["trade_state"] != NOTPAY:
            raise Conflict(f"订单状态为 {trade['trade_state']}，不能支付", code="not_payable")
        expire = trade.get("time_expire")
        if expire and protocol.parse_time(expire) <= _now():
            raise Conflict("订单已过支付截止时间", code="expired")
        now = _now()
        if fail:
            trade |= {"trade_state": PAYERROR}
            _save("trade", trade["out_trade_no"], trade)
            return {"out_trade_no": trade["out_trade_no"], "delivered": False, "notified": False}
        trade |= {
            "trade_state": SUCCESS,
            "transaction_id": "4200" + now.strftime("%Y%m%d") + f"{secrets.randbelow(10**16):016d}",
            "success_time": protocol.format_time(now),
        }
        _save("trade", trade["out_trade_no"], trade)
        redis_store.client.set(
            _key("transaction_id", trade["transaction_id"]),
            trade["out_trade_no"],
            ex=RECORD_SECONDS,
        )
        _index_day(now, f"trade:{trade['out_trade_no']}")
        subject = f"trade:{trade['out_trade_no']}"
        _remember_notification(subject, trade["notify_url"], _payment_notification(trade))
    finally:
        lock.release()
    answer = {"out_trade_no": trade["out_trade_no"], "transaction_id": trade["transaction_id"]}
    if not notify:
        return answer | {"delivered": False, "status_code": None, "notified": False}
    outcome = _deliver_last(subject)
    return answer | {
        "delivered": outcome["delivered"],
        "status_code": outcome["status_code"],
        "notified": True,
    }


@bp.post("/refund-result")
def refund_result():
    """Settle a PROCESSING refund as SUCCESS, ABNORMAL or CLOSED and send its notification."""
    body = _control_json()
    out_refund_no = body.get("out_refund_no")
    if not isinstance(out_refund_no, str) or not OUT_REFUND_NO.fullmatch(out_refund_no):
        raise ValidationFailed({"out_refund_no": ["须为商户退款单号"]})
    status = body.get("status")
    if status not in REFUND_SETTLEMENTS:
        raise ValidationFailed({"status": ["须为 SUCCESS、ABNORMAL 或 CLOSED"]})
    refund = _load("refund", out_refund_no)
    if refund is None:
        raise NotFound("微信支付沙箱中没有该退款单")
    lock = _control_lock(refund["out_trade_no"])
    try:
        refund = _load("refund", out_refund_no)
        if refund["status"] != PROCESSING:
            raise Conflict(f"退款状态为 {refund['status']}，不能再变更", code="settled")
        refund["status"] = status
        if status == SUCCESS:
            refund["success_time"] = protocol.format_time(_now())
        _save("refund", out_refund_no, refund)
        subject = f"refund:{out_refund_no}"
        _remember_notification(subject, refund["notify_url"], _refund_notification(refund))
    finally:
        lock.release()
    outcome = _deliver_last(subject)
    return {
        "out_refund_no": out_refund_no,
        "status": status,
        "delivered": outcome["delivered"],
        "status_code": outcome["status_code"],
    }


@bp.post("/redeliver")
def redeliver():
    """Send the last notification of a transaction or a refund again, ``times`` times (1–10)."""
    body = _control_json()
    times = body.get("times", 1)
    if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= MAX_REDELIVERIES:
        raise ValidationFailed({"times": [f"须为 1–{MAX_REDELIVERIES} 的整数"]})
    if body.get("out_refund_no") is not None:
        out_refund_no = body["out_refund_no"]
        if not isinstance(out_refund_no, str) or _load("refund", out_refund_no) is None:
            raise NotFound("微信支付沙箱中没有该退款单")
        subject = f"refund:{out_refund_no}"
    else:
        subject = f"trade:{_control_trade(body.get('out_trade_no'))['out_trade_no']}"
    deliveries = [_deliver_last(subject) for _ in range(times)]
    return {
        "deliveries": [
            {"delivered": item["delivered"], "status_code": item["status_code"]}
            for item in deliveries
        ]
    }


@bp.post("/notify-raw")
def notify_raw():
    """Send a deliberately broken copy of a paid transaction's notification (``tamper``):

    signature — the signature is not WeChat Pay's; amount — amount.total one fen more, correctly
    signed and encrypted (only a business check catches it); timestamp — signed 10 minutes ago;
    serial — Wechatpay-Serial of another key; resource — encrypted under another APIv3 key.
    """
    body = _control_json()
    tamper = body.get("tamper")
    if tamper not in TAMPERS:
        raise ValidationFailed({"tamper": [f"须为 {'、'.join(TAMPERS)} 之一"]})
    trade = _control_trade(body.get("out_trade_no"))
    if not trade.get("transaction_id"):
        raise Conflict("订单尚未支付，没有支付通知", code="not_paid")
    view = _transaction_view(trade, SUCCESS)
    apiv3_key = None
    if tamper == "amount":
        view["amount"] = {**view["amount"], "total": view["amount"]["total"] + 1}
        view["amount"]["payer_total"] = view["amount"]["total"]
    if tamper == "resource":
        apiv3_key = secrets.token_hex(16)
    notification = _notification(
        "TRANSACTION.SUCCESS", "支付成功", "transaction", view, apiv3_key=apiv3_key
    )
    payload = _dumps(notification).encode()
    serial = current_app.config["WECHATPAY_PUBLIC_KEY_ID"]
    stamp = int(time.time()) - (600 if tamper == "timestamp" else 0)
    if tamper == "serial":
        serial = "PUB_KEY_ID_" + f"{secrets.randbelow(10**32):032d}"
    headers = protocol.signature_headers(_platform_key(), serial, payload, timestamp=stamp)
    if tamper == "signature":
        forged = protocol.signature_headers(_platform_key(), serial, payload + b" ")
        headers[protocol.SIGNATURE_HEADER] = forged[protocol.SIGNATURE_HEADER]
    outcome = _send(f"trade:{trade['out_trade_no']}", trade["notify_url"], payload, headers)
    return {
        "tamper": tamper,
        "delivered": outcome["delivered"],
        "status_code": outcome["status_code"],
    }


@bp.post("/tamper-next-bill")
def tamper_next_bill():
    """Make the next bill download differ from the hash its application announced."""
    redis_store.client.set(_key("tamper_next_bill"), "1", ex=RECORD_SECONDS)
    return "", 204


@bp.get("/transactions/<out_trade_no>")
def inspect(out_trade_no):
    """What the stand-in holds for ``out_trade_no``: the transaction, refunds, notifications."""
    trade = _control_trade(out_trade_no)
    refunds = [_load("refund", number) for number in trade["refunds"]]
    client = redis_store.client
    return {
        "transaction": _transaction_view(trade),
        "prepay_id": trade["prepay_id"],
        "notify_url": trade["notify_url"],
        "time_expire": trade.get("time_expire"),
        "refunds": [_refund_view(refund) for refund in refunds if refund],
        "deliveries": [
            json.loads(item)
            for item in client.lrange(_key("deliveries", f"trade:{out_trade_no}"), 0, -1)
        ],
    }
