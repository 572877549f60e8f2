"""The Alipay open-platform stand-in: ``gateway.do`` (RSA2), the WAP cashier and async notifies.

``/sandbox/alipay/gateway.do`` answers as https://openapi.alipay.com/gateway.do does. Every call
carries the common parameters (app_id, method, charset, sign_type, timestamp, version, biz_content,
sign); the signature is SHA256withRSA over the parameters sorted by name as ``k=v&...``, without
``sign`` and without empty values (``sign_type`` is signed), checked with the app's public key (the
half of ALIPAY_APP_PRIVATE_KEY that the app "uploaded"), and app_id must be ALIPAY_APPID. The app
belongs to the merchant whose PID is ALIPAY_SELLER_ID: the seller_id of notifies and return URLs,
and the account the bills are of.

Server methods answer JSON ``{"<method, dots as _>_response": {...}, "sign": "..."}``, where sign
is SANDBOX_ALIPAY_PRIVATE_KEY's SHA256withRSA over the inner object exactly as written in the
body; code "10000" is success, anything else carries sub_code and sub_msg. As at Alipay, the
refusal of a call it cannot place (app_id or method missing or unknown) comes unsigned, an unknown
method's as ``error_response``. ``alipay.trade.wap.pay`` is not a server call: the patient's
browser opens the signed URL and gets the cashier (收银台) page, which creates the trade
(WAIT_BUYER_PAY); the control endpoint ``pay`` therefore needs the link opened first.

Where this differs from Alipay, on purpose: server calls stamped more than 15 minutes from Beijing
time are refused (isv.invalid-timestamp), so a process clock in the wrong zone shows up in tests;
the day's bill can be fetched the same day (Alipay: from about 9:00 the next day); bills are
``trade`` daily bills only. The bill CSVs are GBK as Alipay's are; the zip entry names are UTF-8.

Control endpoints act as the payer and as Alipay's notify machinery: pay (notify now, or lose the
notify), redeliver, notify-raw (a forged or tampered notify), fail-next (the next call of a method
answers 20000) and trades/<out_trade_no> (what Alipay recorded, notifies included). Notifies are
POSTed only to 127.0.0.1/localhost. State lives in Redis under ``sandbox:alipay:`` for 3 days.
"""

import base64
import binascii
import csv
import functools
import html
import io
import json
import re
import secrets
import zipfile
from datetime import date, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from flask import Blueprint, Response, current_app, redirect, request, url_for

from app.domain import clock
from app.domain.clock import CHINA_TZ
from app.domain.money import InvalidAmount, fen_to_yuan, yuan_to_fen
from app.errors import AppError, Conflict, NotFound, ValidationFailed
from app.extensions import redis_store

bp = Blueprint("sandbox_alipay", __name__)

PREFIX = "sandbox:alipay:"
RECORD_SECONDS = 3 * 24 * 3600
BILL_URL_SECONDS = 30  # Alipay's bill_download_url works 30 seconds
NOTIFY_TIMEOUT_SECONDS = 5
MAX_CLOCK_SKEW = timedelta(minutes=15)
DEFAULT_TIMEOUT = timedelta(days=15)  # alipay.trade.wap.pay without time_expire/timeout_express
MAX_REDELIVERIES = 10
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # Alipay's, always Beijing time

SELLER_EMAIL = "hospital@sandbox.example"
BUYER_ID = "2088102177846881"
BUYER_LOGON_ID = "138****8000"  # Alipay shows the payer's account masked
OTHER_APP_ID = "2021000000009999"  # another app of the same merchant, for notify-raw app_id
OTHER_SELLER_ID = "2088102177849999"  # another merchant's PID, for notify-raw seller_id

WAP_PAY = "alipay.trade.wap.pay"
QUERY = "alipay.trade.query"
CLOSE = "alipay.trade.close"
REFUND = "alipay.trade.refund"
REFUND_QUERY = "alipay.trade.fastpay.refund.query"
BILL_URL = "alipay.data.dataservice.bill.downloadurl.query"

WAIT_BUYER_PAY = "WAIT_BUYER_PAY"
TRADE_SUCCESS = "TRADE_SUCCESS"
TRADE_CLOSED = "TRADE_CLOSED"
TRADE_FINISHED = "TRADE_FINISHED"

OUT_NO = re.compile(r"[A-Za-z0-9_]{1,64}")  # out_trade_no, out_request_no: letters, digits, _
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
TIMEOUT_EXPRESS = re.compile(r"([1-9]\d*)([mhd])")

MSG = {
    "10000": "Success",
    "20000": "Service Currently Unavailable",
    "40001": "Missing Required Arguments",
    "40002": "Invalid Arguments",
    "40004": "Business Failed",
}
# (code, sub_code, sub_msg): the gateway's public errors, then the trade APIs' business errors.
MISSING_APP_ID = ("40001", "isv.missing-app-id", "缺少AppID参数")
MISSING_METHOD = ("40001", "isv.missing-method", "缺少方法名参数")
MISSING_SIGNATURE = ("40001", "isv.missing-signature", "缺少签名参数")
MISSING_SIGNATURE_TYPE = ("40001", "isv.missing-signature-type", "缺少签名类型参数")
MISSING_TIMESTAMP = ("40001", "isv.missing-timestamp", "缺少时间戳参数")
MISSING_VERSION = ("40001", "isv.missing-version", "缺少版本参数")
INVALID_APP_ID = ("40002", "isv.invalid-app-id", "无效的AppID参数")
INVALID_METHOD = ("40002", "isv.invalid-method", "不存在的方法名")
INVALID_FORMAT = ("40002", "isv.invalid-format", "无效的数据格式")
INVALID_CHARSET = ("40002", "isv.invalid-charset", "字符集错误")
INVALID_SIGNATURE_TYPE = ("40002", "isv.invalid-signature-type", "无效的签名类型")
INVALID_TIMESTAMP = ("40002", "isv.invalid-timestamp", "非法的时间戳参数")
# Alipay quotes the string it verified, with & written as &amp;.
INVALID_SIGNATURE = (
    "40002",
    "isv.invalid-signature",
    "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：",
)
INVALID_PARAMETER = ("40002", "isv.invalid-parameter", "参数无效")
UNKNOWN_ERROR = ("20000", "isp.unknow-error", "服务暂不可用（业务系统不可用）")  # Alipay's spelling
TRADE_NOT_EXIST = ("40004", "ACQ.TRADE_NOT_EXIST", "交易不存在")
TRADE_STATUS_ERROR = ("40004", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
TRADE_HAS_SUCCESS = ("40004", "ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
TRADE_HAS_CLOSE = ("40004", "ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
TRADE_HAS_FINISHED = ("40004", "ACQ.TRADE_HAS_FINISHED", "交易已完结")
CONTEXT_INCONSISTENT = ("40004", "ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
ACQ_INVALID_PARAMETER = ("40004", "ACQ.INVALID_PARAMETER", "参数无效")
# With out_request_no: more than is left to refund. Without it: not exactly the whole amount.
REFUND_FEE_ERR = ("40004", "ACQ.REASON_TRADE_REFUND_FEE_ERR", "退款金额无效")
REFUND_AMT_NOT_EQUAL_TOTAL = (
    "40004",
    "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
    "撤销或退款金额与订单金额不一致",
)
DISCORDANT_REPEAT_REQUEST = ("40004", "ACQ.DISCORDANT_REPEAT_REQUEST", "不一致的请求")
BILL_NOT_EXIST = ("40004", "isp.bill_not_exist", "账单不存在")

BILL_HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,"
    "对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,"
    "商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,"
    "退款批次号/请求号,服务费（元）,分润（元）,备注"
)
BILL_SUMMARY_HEADER = (
    "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,"
    "商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）"
)
BILL_RULE = "#-----------------------------------------{}----------------------------------------"


class _Refused(Exception):
    """The gateway answers ``error`` (code, sub_code, sub_msg); unsigned when the app is unknown."""

    def __init__(self, error, detail="", *, signed=True, **extra):
        code, sub_code, sub_msg = error
        super().__init__(sub_code)
        self.answer = {
            "code": code,
            "msg": MSG[code],
            "sub_code": sub_code,
            "sub_msg": sub_msg + detail,
            **extra,
        }
        self.signed = signed


def _key(*parts):
    return PREFIX + ":".join(str(part) for part in parts)


def _now():
    return clock.now().replace(microsecond=0)


def _stamp(moment):
    """Alipay's time format, in Beijing time."""
    return moment.astimezone(CHINA_TZ).strftime(TIME_FORMAT)


def _parse_time(text):
    """Alipay's ``yyyy-MM-dd HH:mm:ss`` as Beijing time, or None when malformed."""
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=CHINA_TZ)
    except (TypeError, ValueError):
        return None


# --- RSA2: SHA256withRSA, PKCS#1 v1.5, base64 ---------------------------------------------------


@functools.lru_cache(maxsize=8)
def _load_private_key(pem):
    return serialization.load_pem_private_key(pem.encode(), password=None)


def _alipay_key():
    """The stand-in's own key: it signs as Alipay (public half: ALIPAY_PUBLIC_KEY)."""
    return _load_private_key(current_app.config["SANDBOX_ALIPAY_PRIVATE_KEY"])


def _app_public_key():
    """The public key the app uploaded to Alipay: the half of ALIPAY_APP_PRIVATE_KEY."""
    return _load_private_key(current_app.config["ALIPAY_APP_PRIVATE_KEY"]).public_key()


def _seller_id():
    """The PID of the merchant the app belongs to, as Alipay knows it: ALIPAY_SELLER_ID."""
    return current_app.config["ALIPAY_SELLER_ID"]


def _sign_content(params, exclude):
    """``k=v&...`` sorted by name, without ``exclude`` and without empty values."""
    return "&".join(
        f"{name}={value}"
        for name, value in sorted(params.items())
        if name not in exclude and value not in (None, "")
    )


def _sign(text, key=None):
    key = key or _alipay_key()
    signature = key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def _verifies(text, signature, public_key):
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, text.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True


def _signed(params, key=None):
    """``params`` with ``sign``, as Alipay signs notifies and return-url parameters."""
    return {**params, "sign": _sign(_sign_content(params, {"sign", "sign_type"}), key)}


# --- Trades in Redis -----------------------------------------------------------------------------


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _lock(out_trade_no):
    return redis_store.client.lock(_key("lock", out_trade_no), timeout=10, blocking_timeout=5)


def _load(out_trade_no):
    """The trade as Alipay sees it now (an unpaid trade past time_expire is closed), or None."""
    raw = redis_store.client.get(_key("trade", out_trade_no))
    if raw is None:
        return None
    return _expire(json.loads(raw))


def _expire(trade):
    """``trade`` closed if it is unpaid and past its time_expire."""
    if trade["trade_status"] == WAIT_BUYER_PAY and _now() > _parse_time(trade["time_expire"]):
        trade.update(trade_status=TRADE_CLOSED, gmt_close=trade["time_expire"])
    return trade


def _save(trade):
    with redis_store.client.pipeline() as pipe:
        pipe.set(_key("trade", trade["out_trade_no"]), json.dumps(trade), ex=RECORD_SECONDS)
        pipe.set(_key("trade_no", trade["trade_no"]), trade["out_trade_no"], ex=RECORD_SECONDS)
        pipe.execute()


def _new_trade_no(moment):
    return f"{moment:%Y%m%d}22001{secrets.randbelow(10**15):015d}"


def _record_bill(moment, row):
    """Add ``row`` to the bill of ``moment``'s day in Beijing."""
    key = _key("bill", clock.business_date(moment).isoformat())
    with redis_store.client.pipeline() as pipe:
        pipe.rpush(key, json.dumps(row, ensure_ascii=False))
        pipe.expire(key, RECORD_SECONDS)
        pipe.execute()


def _record_notify(out_trade_no, attempt):
    key = _key("notifies", out_trade_no)
    with redis_store.client.pipeline() as pipe:
        pipe.rpush(key, json.dumps(attempt, ensure_ascii=False))
        pipe.expire(key, RECORD_SECONDS)
        pipe.execute()


# --- The gateway ---------------------------------------------------------------------------------


@bp.route("/gateway.do", methods=["GET", "POST"])
def gateway():
    """Alipay's single entry point: check the common parameters and signature, run ``method``."""
    params = {name: request.values.get(name) for name in request.values}
    method = params.get("method") or ""
    try:
        _check_request(params, method)
        biz = _biz_content(params)
        if method == WAP_PAY:
            return _cashier(params, biz)
        if redis_store.client.getdel(_key("fail_next", method)):
            raise _Refused(UNKNOWN_ERROR)
        answer = _SERVER_METHODS[method](biz)
    except _Refused as refused:
        if method == WAP_PAY:
            return _error_page(refused.answer)
        return _answer(method, refused.answer, signed=refused.signed)
    return _answer(method, {"code": "10000", "msg": "Success", **answer})


def _answer(method, answer, signed=True):
    """The JSON body, signed over the inner object exactly as it is written."""
    node = method.replace(".", "_") + "_response" if method in _SERVER_METHODS else "error_response"
    inner = json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
    body = f'{{"{node}":{inner},"sign":"{_sign(inner)}"}}' if signed else f'{{"{node}":{inner}}}'
    # Alipay labels its JSON text/html.
    return Response(body, content_type="text/html;charset=utf-8")


def _check_request(params, method):
    """Refuse the call unless the common parameters are right and the app signed them."""
    if not params.get("app_id"):
        raise _Refused(MISSING_APP_ID, signed=False)
    if params["app_id"] != current_app.config["ALIPAY_APPID"]:
        raise _Refused(INVALID_APP_ID, signed=False)
    if not method:
        raise _Refused(MISSING_METHOD, signed=False)
    if method != WAP_PAY and method not in _SERVER_METHODS:
        raise _Refused(INVALID_METHOD, signed=False)
    if params.get("format", "JSON").upper() != "JSON":
        raise _Refused(INVALID_FORMAT)
    if params.get("charset", "utf-8").lower() not in ("utf-8", "utf8"):
        raise _Refused(INVALID_CHARSET)
    if not params.get("sign_type"):
        raise _Refused(MISSING_SIGNATURE_TYPE)
    if params["sign_type"] != "RSA2":
        raise _Refused(INVALID_SIGNATURE_TYPE)
    if not params.get("sign"):
        raise _Refused(MISSING_SIGNATURE)
    if not params.get("timestamp"):
        raise _Refused(MISSING_TIMESTAMP)
    stamped = _parse_time(params["timestamp"])
    if stamped is None:
        raise _Refused(INVALID_TIMESTAMP)
    # A cashier link is opened whenever the patient gets to it; server calls are made right away.
    if method != WAP_PAY and abs(_now() - stamped) > MAX_CLOCK_SKEW:
        raise _Refused(INVALID_TIMESTAMP)
    if not params.get("version"):
        raise _Refused(MISSING_VERSION)
    content = _sign_content(params, {"sign"})
    if not _verifies(content, params["sign"], _app_public_key()):
        raise _Refused(INVALID_SIGNATURE, content.replace("&", "&amp;"))


def _biz_content(params):
    try:
        biz = json.loads(params.get("biz_content") or "{}")
    except ValueError:
        raise _Refused(INVALID_PARAMETER, "：biz_content") from None
    if not isinstance(biz, dict):
        raise _Refused(INVALID_PARAMETER, "：biz_content")
    return biz


def _field(biz, name, *, pattern=None, max_length=None, required=True, error=None):
    """A string parameter of biz_content, or None when optional and absent."""
    value = biz.get(name)
    if value in (None, "") and not required:
        return None
    valid = isinstance(value, str) and value != ""
    if valid and pattern is not None:
        valid = bool(pattern.fullmatch(value))
    if valid and max_length is not None:
        valid = len(value) <= max_length
    if not valid:
        raise _Refused(error or ACQ_INVALID_PARAMETER, f"：{name}")
    return value


def _amount(biz, name):
    """A yuan amount of biz_content in fen: a string of at most two decimals, at least 0.01."""
    value = _field(biz, name)
    try:
        fen = yuan_to_fen(value)
    except InvalidAmount:
        raise _Refused(ACQ_INVALID_PARAMETER, f"：{name}") from None
    if fen < 1:
        raise _Refused(ACQ_INVALID_PARAMETER, f"：{name}")
    return fen


def _trade_of(biz):
    """The trade named by out_trade_no or trade_no; ACQ.TRADE_NOT_EXIST when there is none."""
    out_trade_no = _field(biz, "out_trade_no", max_length=64, required=False)
    trade_no = _field(biz, "trade_no", max_length=64, required=False)
    if out_trade_no is None and trade_no is None:
        raise _Refused(ACQ_INVALID_PARAMETER, "：out_trade_no 和 trade_no 不能同时为空")
    if out_trade_no is None:
        out_trade_no = _text(redis_store.client.get(_key("trade_no", trade_no)))
    trade = _load(out_trade_no) if out_trade_no else None
    if trade is None or (trade_no is not None and trade["trade_no"] != trade_no):
        raise _Refused(TRADE_NOT_EXIST)
    return trade


# --- Server methods ------------------------------------------------------------------------------


def _trade_query(biz):
    """alipay.trade.query: the trade's status and amounts."""
    trade = _trade_of(biz)
    paid = trade.get("gmt_payment") is not None
    total = fen_to_yuan(trade["total_fen"])
    answer = {
        "trade_no": trade["trade_no"],
        "out_trade_no": trade["out_trade_no"],
        "buyer_logon_id": trade["buyer_logon_id"],
        "trade_status": trade["trade_status"],
        "total_amount": total,
        "buyer_pay_amount": total if paid else "0.00",
        "point_amount": "0.00",
        "invoice_amount": total if paid else "0.00",
        "receipt_amount": total if paid else "0.00",
        "buyer_user_id": trade["buyer_id"],
    }
    if paid:
        answer["send_pay_date"] = trade["gmt_payment"]
        answer["fund_bill_list"] = [{"amount": total, "fund_channel": "ALIPAYACCOUNT"}]
    return answer


def _trade_close(biz):
    """alipay.trade.close: close a trade the buyer has not paid."""
    with _lock(_trade_of(biz)["out_trade_no"]):  # found once to name the lock, again under it
        trade = _trade_of(biz)
        if trade["trade_status"] != WAIT_BUYER_PAY:
            raise _Refused(TRADE_STATUS_ERROR)
        trade.update(trade_status=TRADE_CLOSED, gmt_close=_stamp(_now()))
        _save(trade)
    return {"trade_no": trade["trade_no"], "out_trade_no": trade["out_trade_no"]}


def _trade_refund(biz):
    """alipay.trade.refund: refund part or all of a paid trade, once per out_request_no."""
    with _lock(_trade_of(biz)["out_trade_no"]):
        trade = _trade_of(biz)
        refund_fen = _amount(biz, "refund_amount")
        out_request_no = _field(biz, "out_request_no", pattern=OUT_NO, required=False)
        whole = out_request_no is None  # without a request number only the whole amount
        out_request_no = out_request_no or trade["out_trade_no"]
        refunds = trade.setdefault("refunds", {})
        failed = {"out_trade_no": trade["out_trade_no"], "refund_fee": "0.00"}
        if out_request_no in refunds:  # the same request again: nothing moves
            if refunds[out_request_no]["refund_fen"] != refund_fen:
                raise _Refused(DISCORDANT_REPEAT_REQUEST, **failed)
            return _refund_answer(trade, refunds[out_request_no], fund_change=False)
        if trade["trade_status"] == WAIT_BUYER_PAY:
            raise _Refused(TRADE_STATUS_ERROR, **failed)
        if trade["trade_status"] == TRADE_FINISHED:
            raise _Refused(TRADE_HAS_FINISHED, **failed)
        if trade["trade_status"] == TRADE_CLOSED:
            raise _Refused(TRADE_HAS_CLOSE, **failed)
        if whole and refund_fen != trade["total_fen"]:
            raise _Refused(REFUND_AMT_NOT_EQUAL_TOTAL, **failed)
        if refund_fen > trade["total_fen"] - trade["refunded_fen"]:
            raise _Refused(REFUND_FEE_ERR, **failed)
        moment = _now()
        refund = {
            "out_request_no": out_request_no,
            "refund_fen": refund_fen,
            "refund_reason": _field(biz, "refund_reason", max_length=256, required=False) or "",
            "gmt_refund_pay": _stamp(moment),
        }
        refunds[out_request_no] = refund
        trade["refunded_fen"] += refund_fen
        if trade["refunded_fen"] == trade["total_fen"]:  # refunded in full: the trade closes
            trade.update(trade_status=TRADE_CLOSED, gmt_close=refund["gmt_refund_pay"])
        _save(trade)
    _record_bill(
        moment,
        {
            **_bill_base(trade),
            "kind": "退款",
            "finished": refund["gmt_refund_pay"],
            "received_fen": -refund_fen,
            "out_request_no": out_request_no,
        },
    )
    return _refund_answer(trade, refund, fund_change=True)


def _refund_answer(trade, refund, fund_change):
    return {
        "trade_no": trade["trade_no"],
        "out_trade_no": trade["out_trade_no"],
        "buyer_logon_id": trade["buyer_logon_id"],
        "fund_change": "Y" if fund_change else "N",
        "refund_fee": fen_to_yuan(trade["refunded_fen"]),  # all refunded so far, not this one
        "gmt_refund_pay": refund["gmt_refund_pay"],
        "buyer_user_id": trade["buyer_id"],
        "send_back_fee": fen_to_yuan(refund["refund_fen"] if fund_change else 0),
    }


def _refund_query(biz):
    """alipay.trade.fastpay.refund.query: one refund of a trade; no refund fields if unknown."""
    trade = _trade_of(biz)
    out_request_no = _field(biz, "out_request_no", max_length=64)
    answer = {"trade_no": trade["trade_no"], "out_trade_no": trade["out_trade_no"]}
    refund = trade.get("refunds", {}).get(out_request_no)
    if refund is None:  # Alipay: code 10000 without refund_amount means no such refund
        return answer
    answer.update(
        out_request_no=out_request_no,
        total_amount=fen_to_yuan(trade["total_fen"]),
        refund_amount=fen_to_yuan(refund["refund_fen"]),
        refund_status="REFUND_SUCCESS",
    )
    if refund["refund_reason"]:
        answer["refund_reason"] = refund["refund_reason"]
    options = biz.get("query_options")
    if isinstance(options, list) and "gmt_refund_pay" in options:
        answer["gmt_refund_pay"] = refund["gmt_refund_pay"]
    return answer


def _bill_download_url(biz):
    """alipay.data.dataservice.bill.downloadurl.query: a 30-second link to a day's trade bill."""
    if biz.get("bill_type") != "trade":
        raise _Refused(INVALID_PARAMETER, "：bill_type（沙箱只提供 trade 账单）")
    bill_date = _field(biz, "bill_date", pattern=DATE, error=INVALID_PARAMETER)
    try:
        day = date.fromisoformat(bill_date)
    except ValueError:
        raise _Refused(INVALID_PARAMETER, "：bill_date") from None
    if day > clock.business_date(_now()) or not redis_store.client.exists(_key("bill", day)):
        raise _Refused(BILL_NOT_EXIST)
    token = secrets.token_urlsafe(24)
    redis_store.client.set(_key("bill_url", token), day.isoformat(), ex=BILL_URL_SECONDS)
    url = url_for(
        "sandbox_alipay.bill_file",
        bizType="trade",
        fileType="csv.zip",
        bizDates=f"{day:%Y%m%d}",
        token=token,
        _external=True,
    )
    return {"bill_download_url": url}


_SERVER_METHODS = {
    QUERY: _trade_query,
    CLOSE: _trade_close,
    REFUND: _trade_refund,
    REFUND_QUERY: _refund_query,
    BILL_URL: _bill_download_url,
}


# --- The WAP cashier: what the patient's browser sees --------------------------------------------


def _cashier(params, biz):
    """alipay.trade.wap.pay: open (and on first sight create) the trade; show the 收银台."""
    out_trade_no = _field(biz, "out_trade_no", pattern=OUT_NO)
    total_fen = _amount(biz, "total_amount")
    subject = _field(biz, "subject", max_length=256)
    time_expire = _time_expire(biz)
    with _lock(out_trade_no):
        trade = _load(out_trade_no)
        if trade is None:
            now = _now()
            trade = {
                "out_trade_no": out_trade_no,
                "trade_no": _new_trade_no(now),
                "subject": subject,
                "total_fen": total_fen,
                "refunded_fen": 0,
                "trade_status": WAIT_BUYER_PAY,
                "gmt_create": _stamp(now),
                "time_expire": _stamp(time_expire),
                "notify_url": params.get("notify_url"),
                "return_url": params.get("return_url"),
                "buyer_id": BUYER_ID,
                "buyer_logon_id": BUYER_LOGON_ID,
                "refunds": {},
            }
            _save(trade)
            trade = _expire(trade)
        elif (trade["total_fen"], trade["subject"]) != (total_fen, subject):
            raise _Refused(CONTEXT_INCONSISTENT)
    if trade["trade_status"] in (TRADE_SUCCESS, TRADE_FINISHED):
        raise _Refused(TRADE_HAS_SUCCESS)
    if trade["trade_status"] == TRADE_CLOSED:
        raise _Refused(TRADE_HAS_CLOSE)
    return _page(
        "支付宝收银台",
        f"""<p class="subject">{html.escape(trade["subject"])}</p>
<p class="amount">¥{fen_to_yuan(trade["total_fen"])}</p>
<p class="out-trade-no">商户订单号：{html.escape(out_trade_no)}</p>
<p class="expire">请在 {trade["time_expire"]} 前完成付款</p>
<form method="post" action="{url_for("sandbox_alipay.cashier_pay")}">
<input type="hidden" name="out_trade_no" value="{html.escape(out_trade_no)}">
<button type="submit" class="pay">确认付款</button>
</form>""",
    )


def _time_expire(biz):
    """When the unpaid trade closes: time_expire, else now + timeout_express, else 15 days."""
    time_expire = _field(biz, "time_expire", required=False)
    if time_expire is not None:
        moment = _parse_time(time_expire)
        if moment is None:
            raise _Refused(ACQ_INVALID_PARAMETER, "：time_expire")
        return moment
    express = _field(biz, "timeout_express", pattern=TIMEOUT_EXPRESS, required=False)
    if express is None:
        return _now() + DEFAULT_TIMEOUT
    number, unit = TIMEOUT_EXPRESS.fullmatch(express).groups()
    return _now() + timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: int(number)})


def _page(title, body, status=200):
    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}（沙箱）</title></head>
<body><h1>{html.escape(title)}</h1>
{body}
</body></html>"""
    return Response(page, status=status, content_type="text/html; charset=utf-8")


def _error_page(answer):
    """Alipay's error page for a cashier link it refuses: HTTP 200, the code and the reason."""
    code = answer["sub_code"].removeprefix("isv.")
    return _page(
        "支付宝 - 网上支付 安全快速！",
        f"""<p class="error-code">错误代码 {html.escape(code)}</p>
<p class="error-reason">错误原因: {html.escape(answer["sub_msg"])}</p>""",
    )


@bp.post("/cashier/pay")
def cashier_pay():
    """The 确认付款 button: pay, notify, then back to return_url as Alipay redirects."""
    try:
        trade = _pay(_out_trade_no(request.form.get("out_trade_no")))
    except AppError as error:
        return _page("付款失败", f'<p class="error">{html.escape(error.message)}</p>', error.status)
    _send_notify(trade, "pay")
    if not trade.get("return_url"):
        return _page("付款成功", f'<p class="amount">¥{fen_to_yuan(trade["total_fen"])}</p>')
    app_id = current_app.config["ALIPAY_APPID"]
    returned = _signed(
        {
            "charset": "utf-8",
            "out_trade_no": trade["out_trade_no"],
            "method": "alipay.trade.wap.pay.return",
            "total_amount": fen_to_yuan(trade["total_fen"]),
            "trade_no": trade["trade_no"],
            "auth_app_id": app_id,
            "version": "1.0",
            "app_id": app_id,
            "sign_type": "RSA2",
            "seller_id": _seller_id(),
            "timestamp": _stamp(_now()),
        }
    )
    separator = "&" if urlsplit(trade["return_url"]).query else "?"
    return redirect(trade["return_url"] + separator + urlencode(returned))


def _pay(out_trade_no):
    """The buyer pays ``out_trade_no``: the trade succeeds and its notify is prepared."""
    with _lock(out_trade_no):
        trade = _load(out_trade_no)
        if trade is None:
            raise NotFound("支付宝沙箱中没有这笔交易：请先打开支付链接（收银台）")
        if trade["trade_status"] != WAIT_BUYER_PAY:
            status = trade["trade_status"]
            raise Conflict(f"交易状态为 {status}，不能付款", code="trade_not_payable")
        moment = _now()
        trade.update(trade_status=TRADE_SUCCESS, gmt_payment=_stamp(moment))
        trade["notify"] = _payment_notify(trade)
        _save(trade)
    _record_bill(
        moment,
        {
            **_bill_base(trade),
            "kind": "交易",
            "finished": trade["gmt_payment"],
            "received_fen": trade["total_fen"],
            "out_request_no": "",
        },
    )
    return trade


# --- Async notifies ------------------------------------------------------------------------------


def _payment_notify(trade):
    """The TRADE_SUCCESS notify's parameters, before notify_time and sign are added."""
    app_id = current_app.config["ALIPAY_APPID"]
    total = fen_to_yuan(trade["total_fen"])
    return {
        "notify_type": "trade_status_sync",
        "notify_id": secrets.token_hex(17),
        "app_id": app_id,
        "auth_app_id": app_id,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "trade_no": trade["trade_no"],
        "out_trade_no": trade["out_trade_no"],
        "trade_status": TRADE_SUCCESS,
        "total_amount": total,
        "receipt_amount": total,
        "invoice_amount": total,
        "buyer_pay_amount": total,
        "point_amount": "0.00",
        "subject": trade["subject"],
        "gmt_create": trade["gmt_create"],
        "gmt_payment": trade.get("gmt_payment") or _stamp(_now()),
        "seller_id": _seller_id(),
        "seller_email": SELLER_EMAIL,
        "buyer_id": trade["buyer_id"],
        "buyer_logon_id": trade["buyer_logon_id"],
        "fund_bill_list": json.dumps(
            [{"amount": total, "fundChannel": "ALIPAYACCOUNT"}], separators=(",", ":")
        ),
    }


def _send_notify(trade, kind, form=None):
    """POST the notify (``form``, else the trade's own, freshly stamped and signed); record it."""
    if form is None:
        form = _signed({**trade["notify"], "notify_time": _stamp(_now())})
    attempt = {"kind": kind, "notify_id": form.get("notify_id"), "at": _stamp(_now())}
    attempt.update(_post_form(trade.get("notify_url"), form))
    _record_notify(trade["out_trade_no"], attempt)
    return attempt, form


def _post_form(url, form):
    """Deliver ``form``: delivered only when the answer is HTTP 200 and exactly ``success``."""
    if not url:
        return {"delivered": False, "response_text": None, "error": "交易没有 notify_url"}
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname not in ("127.0.0.1", "localhost"):
        return {
            "delivered": False,
            "response_text": None,
            "error": "沙箱只向 127.0.0.1 或 localhost 发送通知",
        }
    try:
        response = requests.post(
            url, data=form, timeout=NOTIFY_TIMEOUT_SECONDS, allow_redirects=False
        )
    except requests.RequestException as exc:
        return {"delivered": False, "response_text": None, "error": type(exc).__name__}
    return {
        "delivered": response.status_code == 200 and response.text == "success",
        "status": response.status_code,
        "response_text": response.text[:2000],
    }


# --- The bill file -------------------------------------------------------------------------------


def _bill_base(trade):
    return {
        "trade_no": trade["trade_no"],
        "out_trade_no": trade["out_trade_no"],
        "subject": trade["subject"],
        "created": trade["gmt_create"],
        "buyer_logon_id": trade["buyer_logon_id"],
        "total_fen": trade["total_fen"],
    }


@bp.get("/downloadBillFile.resource")
def bill_file():
    """The zip behind a bill_download_url: the day's 业务明细 and 业务明细(汇总), GBK CSV."""
    day = redis_store.client.get(_key("bill_url", request.args.get("token", "")))
    if day is None:
        return Response("链接已失效", status=404, content_type="text/plain; charset=utf-8")
    day = date.fromisoformat(_text(day))
    rows = [json.loads(row) for row in redis_store.client.lrange(_key("bill", day), 0, -1)]
    stamp = f"{_seller_id()}_{day:%Y%m%d}"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr(f"{stamp}_业务明细.csv", _detail_csv(day, rows))
        bundle.writestr(f"{stamp}_业务明细(汇总).csv", _summary_csv(day, rows))
    return Response(
        archive.getvalue(),
        content_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{stamp}.csv.zip"'},
    )


def _bill_preamble(title, day):
    start = f"{day:%Y年%m月%d日} 00:00:00"
    end = f"{day + timedelta(days=1):%Y年%m月%d日} 00:00:00"
    return [
        f"#支付宝{title}查询",
        f"#账号：[{_seller_id()}0156]",
        f"#起始日期：[{start}]   终止日期：[{end}]",
        BILL_RULE.format(f"{title}列表"),
    ]


def _csv_lines(rows):
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().splitlines()


def _gbk(lines):
    """Lines as Alipay's bill files are written: GBK, CRLF."""
    return "\r\n".join(lines).encode("gbk", errors="replace") + b"\r\n"


def _detail_record(row):
    """One 业务明细 line; Alipay ends every value with a tab, so spreadsheets keep long numbers."""
    known = {
        "支付宝交易号": row["trade_no"],
        "商户订单号": row["out_trade_no"],
        "业务类型": row["kind"],
        "商品名称": row["subject"],
        "创建时间": row["created"],
        "完成时间": row["finished"],
        "对方账户": row["buyer_logon_id"],
        "订单金额（元）": fen_to_yuan(row["total_fen"]),
        "商家实收（元）": _signed_yuan(row["received_fen"]),  # a refund is negative
        "退款批次号/请求号": row["out_request_no"],
    }
    columns = BILL_HEADER.split(",")
    return [f"{known.get(name, '0.00' if name.endswith('（元）') else '')}\t" for name in columns]


def _detail_csv(day, rows):
    records = [_detail_record(row) for row in rows]
    payments = sum(1 for row in rows if row["kind"] == "交易")
    return _gbk(
        [
            *_bill_preamble("业务明细", day),
            BILL_HEADER,
            *_csv_lines(records),
            BILL_RULE.format("业务明细列表结束"),
            f"#交易合计：{payments}笔，退款合计：{len(rows) - payments}笔",
            f"#导出时间：[{_now():%Y年%m月%d日 %H:%M:%S}]",
        ]
    )


def _summary_csv(day, rows):
    payments = [row for row in rows if row["kind"] == "交易"]
    ordered = sum(row["total_fen"] for row in payments)
    received = sum(row["received_fen"] for row in rows)
    zero = "0.00"
    total = ["合计", "", len(payments), len(rows) - len(payments), fen_to_yuan(ordered)]
    total += [_signed_yuan(received), zero, zero, zero, zero, zero, _signed_yuan(received)]
    return _gbk(
        [
            *_bill_preamble("业务汇总", day),
            BILL_SUMMARY_HEADER,
            *_csv_lines([total]),
            BILL_RULE.format("业务汇总列表结束"),
            f"#导出时间：[{_now():%Y年%m月%d日 %H:%M:%S}]",
        ]
    )


def _signed_yuan(fen):
    return ("-" if fen < 0 else "") + fen_to_yuan(abs(fen))


# --- Control endpoints: the payer, and Alipay's notify machinery --------------------------------


def _control_json():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed({"_schema": ["请以 JSON 对象提交"]})
    return body


def _out_trade_no(value):
    if not isinstance(value, str) or not OUT_NO.fullmatch(value):
        raise ValidationFailed({"out_trade_no": ["须为 1–64 位字母、数字或下划线"]})
    return value


def _paid_trade(out_trade_no):
    trade = _load(out_trade_no)
    if trade is None:
        raise NotFound("支付宝沙箱中没有这笔交易")
    if "notify" not in trade:
        raise Conflict("这笔交易尚未付款，没有可重发的通知", code="trade_not_paid")
    return trade


@bp.post("/pay")
def pay():
    """The payer pays ``out_trade_no`` (opened in the cashier); the notify is POSTed now.

    ``{"notify": false}`` pays without delivering the notify, as when Alipay's notify is lost.
    """
    body = _control_json()
    out_trade_no = _out_trade_no(body.get("out_trade_no"))
    notify = body.get("notify", True)
    if not isinstance(notify, bool):
        raise ValidationFailed({"notify": ["须为 true 或 false"]})
    trade = _pay(out_trade_no)
    if not notify:
        _record_notify(
            out_trade_no,
            {"kind": "lost", "notify_id": trade["notify"]["notify_id"], "at": _stamp(_now())},
        )
        return {"delivered": False, "response_text": None, "trade_no": trade["trade_no"]}
    attempt, _ = _send_notify(trade, "pay")
    return {
        "delivered": attempt["delivered"],
        "response_text": attempt["response_text"],
        "trade_no": trade["trade_no"],
    }


@bp.post("/redeliver")
def redeliver():
    """Send the paid trade's notify again, ``times`` times (1–10), as Alipay's retries do."""
    body = _control_json()
    trade = _paid_trade(_out_trade_no(body.get("out_trade_no")))
    times = body.get("times", 1)
    if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= MAX_REDELIVERIES:
        raise ValidationFailed({"times": [f"须为 1–{MAX_REDELIVERIES} 的整数"]})
    attempts = [_send_notify(trade, "redeliver")[0] for _ in range(times)]
    return {
        "delivered": attempts[-1]["delivered"],
        "response_text": attempts[-1]["response_text"],
        "deliveries": attempts,
    }


_TAMPERS = ("signature", "amount", "app_id", "seller_id", "signed_amount")


@bp.post("/notify-raw")
def notify_raw():
    """POST a notify for ``out_trade_no`` that a webhook must refuse; returns the form sent.

    tamper: ``signature`` signed with a key other than Alipay's; ``amount`` total_amount changed
    after signing; ``app_id`` validly signed, for another app; ``seller_id`` validly signed, paid
    to another merchant; ``signed_amount`` validly signed, with a total_amount other than the
    trade's (only the webhook's own amount check catches it).
    """
    body = _control_json()
    out_trade_no = _out_trade_no(body.get("out_trade_no"))
    tamper = body.get("tamper")
    if tamper not in _TAMPERS:
        raise ValidationFailed({"tamper": ["须为 " + "、".join(_TAMPERS) + " 之一"]})
    trade = _load(out_trade_no)
    if trade is None:
        raise NotFound("支付宝沙箱中没有这笔交易")
    base = {**_payment_notify(trade), "notify_time": _stamp(_now())}
    other_fen = 1 if trade["total_fen"] != 1 else 2
    other_amounts = dict.fromkeys(
        ("total_amount", "receipt_amount", "invoice_amount", "buyer_pay_amount"),
        fen_to_yuan(other_fen),
    )
    if tamper == "signature":
        app_key = _load_private_key(current_app.config["ALIPAY_APP_PRIVATE_KEY"])
        form = _signed(base, key=app_key)
    elif tamper == "amount":
        form = {**_signed(base), **other_amounts}
    elif tamper == "app_id":
        form = _signed({**base, "app_id": OTHER_APP_ID, "auth_app_id": OTHER_APP_ID})
    elif tamper == "seller_id":
        form = _signed({**base, "seller_id": OTHER_SELLER_ID})
    else:
        form = _signed({**base, **other_amounts})
    attempt, form = _send_notify(trade, f"raw:{tamper}", form)
    return {
        "delivered": attempt["delivered"],
        "response_text": attempt["response_text"],
        "form": form,
    }


@bp.post("/fail-next")
def fail_next():
    """Make the next call of server method ``method`` answer 20000 (service unavailable)."""
    method = _control_json().get("method")
    if method not in _SERVER_METHODS:
        raise ValidationFailed({"method": ["须为 " + "、".join(_SERVER_METHODS) + " 之一"]})
    redis_store.client.set(_key("fail_next", method), "1", ex=RECORD_SECONDS)
    return "", 204


@bp.get("/trades/<out_trade_no>")
def trade_detail(out_trade_no):
    """What Alipay recorded for ``out_trade_no``: status, amounts, refunds and notifies."""
    trade = _load(_out_trade_no(out_trade_no))
    if trade is None:
        raise NotFound("支付宝沙箱中没有这笔交易")
    notifies = redis_store.client.lrange(_key("notifies", out_trade_no), 0, -1)
    return {
        "out_trade_no": trade["out_trade_no"],
        "trade_no": trade["trade_no"],
        "trade_status": trade["trade_status"],
        "subject": trade["subject"],
        "total_amount": fen_to_yuan(trade["total_fen"]),
        "refunded_amount": fen_to_yuan(trade["refunded_fen"]),
        "gmt_create": trade["gmt_create"],
        "gmt_payment": trade.get("gmt_payment"),
        "gmt_close": trade.get("gmt_close"),
        "time_expire": trade["time_expire"],
        "notify_url": trade["notify_url"],
        "return_url": trade["return_url"],
        "refunds": [
            {
                "out_request_no": refund["out_request_no"],
                "refund_amount": fen_to_yuan(refund["refund_fen"]),
                "refund_reason": refund["refund_reason"],
                "gmt_refund_pay": refund["gmt_refund_pay"],
            }
            for refund in trade.get("refunds", {}).values()
        ],
        "notifies": [json.loads(item) for item in notifies],
    }
