"""Alipay (支付宝) for the H5 channel: the WAP cashier, trade query and close, refunds, bills and
async notifies, over python-alipay-sdk 3.4.0.

Built from config: ALIPAY_APPID; ALIPAY_SELLER_ID (our merchant's PID, 2088…: the seller a notify
must name); ALIPAY_APP_PRIVATE_KEY (our app key, PKCS#8 PEM: signs requests);
ALIPAY_PUBLIC_KEY (Alipay's: verifies answers and notifies); ALIPAY_GATEWAY
(https://openapi.alipay.com/gateway.do in production, the /sandbox/alipay stand-in elsewhere, so
tests run this very code); PUBLIC_BASE_URL (notifies go to PUBLIC_BASE_URL/webhooks/alipay).

Amounts are integer fen at this module's boundary and yuan strings ("12.30") only on the wire
(``app.domain.money``). Alipay's times are naive Beijing times: they are written and read as
Asia/Shanghai whatever the process's TZ.

What the SDK does, and what this module does about it:

- It signs requests itself: SHA256withRSA over the parameters sorted as ``k=v&...``, ``sign_type``
  included, and stamps ``timestamp`` with ``datetime.now()``, the process's local time;
  ``build_body`` is overridden to stamp Beijing time.
- It fetches with ``urllib.request.urlopen(url, timeout=15)``: a new connection per call, a
  timeout per socket operation only, and failures as URLError, HTTPError, socket timeouts or
  http.client errors. ``verified_sync_response``, its one network call, is overridden to GET the
  same signed URL through requests, with connect and read timeouts, a deadline for the whole
  answer and a size cap.
- It verifies an answer's ``sign`` over the inner ``..._response`` JSON exactly as sent (found by
  counting braces) and raises a bare AliPayException for an unsigned one. Alipay leaves unsigned
  only what it refuses before it knows the app (a bad app_id, an unknown method), so an unsigned
  refusal is read as such, while an unsigned success or business answer is never trusted.
- Business failures come back as ordinary answers: anything but code "10000" raises the typed
  errors below.
- ``verify(data, sign)`` (for notifies) drops ``sign_type`` itself and checks the rest, empty
  values included, against ALIPAY_PUBLIC_KEY; ``verify_notification`` adds what it does not check.

Usage, inside an app context: ``alipay.wap_pay_url(...)``, ``alipay.query(out_trade_no)``,
``alipay.refund(...)``, ``alipay.verify_notification(request.form)``; or ``Alipay.from_config(c)``.
"""

import csv
import functools
import io
import json
import logging
import re
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

import requests
from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig
from flask import current_app

from app.domain import clock
from app.domain.clock import CHINA_TZ
from app.domain.money import InvalidAmount, fen_to_yuan, yuan_to_fen
from app.integrations import kept

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5  # to connect, and between two reads
DEADLINE_SECONDS = 15  # for a whole answer
MAX_ANSWER_BYTES = 1 << 20
MAX_BILL_BYTES = 64 << 20  # the zip, and each CSV in it
READ_CHUNK_BYTES = 16 << 10
WEBHOOK_PATH = "/webhooks/alipay"
# How old (or how far ahead of our clock) a notify's notify_time may be.
NOTIFY_MAX_AGE = timedelta(hours=48)
NOTIFY_SKEW = timedelta(minutes=5)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
SUBJECT_MAX_LENGTH = 256
OUT_NO = re.compile(r"[A-Za-z0-9_]{1,64}")  # out_trade_no and out_request_no, as Alipay documents
SUBJECT_FORBIDDEN = re.compile(r"[/=&]")  # "不可使用特殊字符，如 /，=，& 等"

SUCCESS = "10000"
SERVICE_UNAVAILABLE = "20000"
BUSINESS_FAILED = "40004"
TRADE_NOT_EXIST = "ACQ.TRADE_NOT_EXIST"
# Business sub-codes that mean "try again later" rather than "no".
TRANSIENT_SUB_CODES = frozenset({"ACQ.SYSTEM_ERROR"})
BILL_DETAIL_FIRST_COLUMN = "支付宝交易号"


class TradeStatus(StrEnum):
    """An Alipay trade's status."""

    WAIT_BUYER_PAY = "WAIT_BUYER_PAY"  # opened in the cashier, not paid
    TRADE_SUCCESS = "TRADE_SUCCESS"  # paid; refundable
    TRADE_CLOSED = "TRADE_CLOSED"  # closed unpaid (or expired), or refunded in full
    TRADE_FINISHED = "TRADE_FINISHED"  # paid, and the refund period is over


class AlipayError(Exception):
    """Alipay did not do it: ``code``, ``sub_code`` and ``message`` (sub_msg, else msg) as it
    answered; code None when the failure was the network's or the answer's. A bare AlipayError is
    a gateway refusal of the call itself (40001, 40002: bad app_id, signature, parameters), which
    points at our configuration."""

    def __init__(self, code, sub_code=None, message=""):
        super().__init__(f"Alipay error {code} {sub_code}: {message}")
        self.code = code
        self.sub_code = sub_code
        self.message = message


class AlipayRejected(AlipayError):
    """Alipay refused on business grounds (40004): ACQ.TRADE_NOT_EXIST, ACQ.TRADE_STATUS_ERROR,
    ACQ.REASON_TRADE_REFUND_FEE_ERR, ...; the same request will be refused again."""


class AlipayUnavailable(AlipayError):
    """Alipay was unreachable, slow or busy (20000, ACQ.SYSTEM_ERROR), or answered something that
    is not a signed Alipay answer; try again later, and settle doubts with a query."""


class NotificationInvalid(Exception):
    """An async notify that must not be trusted; ``reason`` says why (for the log, not the
    payer)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Trade:
    """A trade as Alipay reports it."""

    out_trade_no: str
    trade_no: str
    trade_status: TradeStatus
    amount_fen: int
    paid_at: datetime | None  # aware; None until paid
    buyer_logon_id: str | None  # masked by Alipay, e.g. 138****8000


@dataclass(frozen=True)
class RefundResult:
    """One refund of a trade. From ``refund``: ``fund_change`` is whether this call moved money
    (False when out_request_no had already been refunded) and ``refunded_total_fen`` is all that
    the trade has had refunded so far. From ``query_refund``: fund_change is False and
    refunded_total_fen None."""

    out_trade_no: str
    trade_no: str
    out_request_no: str
    refund_fen: int
    fund_change: bool
    refunded_total_fen: int | None
    refunded_at: datetime | None


@dataclass(frozen=True)
class BillRow:
    """One line of a day's trade bill: a payment, or a refund (``out_request_no`` set)."""

    out_trade_no: str
    trade_no: str
    type: str  # "payment" or "refund"
    amount_fen: int  # positive either way
    time: datetime  # when it completed, aware
    out_request_no: str | None


@dataclass(frozen=True)
class Notification:
    """A verified async notify (trade_status_sync) for our app."""

    notify_id: str
    app_id: str
    trade_status: TradeStatus
    out_trade_no: str
    trade_no: str
    total_fen: int
    gmt_payment: datetime | None  # aware
    refunded_fen: int | None  # refund_fee: on notifies Alipay sends after a refund


def _stamp(moment):
    """Alipay's time format, in Beijing time."""
    return moment.astimezone(CHINA_TZ).strftime(TIME_FORMAT)


def _parse_time(text):
    """Alipay's ``yyyy-MM-dd HH:mm:ss`` (Beijing time) as an aware datetime."""
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=CHINA_TZ)


def _raise_for(answer):
    """Raise the error for an answer whose code is not 10000."""
    code = str(answer.get("code"))
    if code == SUCCESS:
        return
    sub_code = answer.get("sub_code")
    message = answer.get("sub_msg") or answer.get("msg") or ""
    if code == SERVICE_UNAVAILABLE or sub_code in TRANSIENT_SUB_CODES:
        raise AlipayUnavailable(code, sub_code, message)
    if code == BUSINESS_FAILED:
        raise AlipayRejected(code, sub_code, message)
    raise AlipayError(code, sub_code, message)


class _AliPay(AliPay):
    """python-alipay-sdk's client, stamping Beijing time and fetching through ``fetch``."""

    def __init__(self, fetch, **kwargs):
        super().__init__(**kwargs)
        self._fetch = fetch

    def build_body(self, *args, **kwargs):
        data = super().build_body(*args, **kwargs)
        data["timestamp"] = _stamp(clock.now())  # the SDK's is the process's local time
        return data

    def verified_sync_response(self, data, response_type):
        raw = self._fetch(self._gateway + "?" + self.sign_data(data))
        return self.read_answer(raw, response_type)

    def read_answer(self, raw, response_type):
        """The inner answer of a gateway body, its signature verified where Alipay signs."""
        try:
            text = raw.decode("utf-8")
            body = json.loads(text)
        except ValueError:
            raise AlipayUnavailable(None, None, "the answer is not JSON") from None
        answer = None
        if isinstance(body, dict):
            answer = body.get(response_type) or body.get("error_response")
        if not isinstance(answer, dict):
            raise AlipayUnavailable(None, None, f"the answer has no {response_type}")
        if "sign" not in body or response_type not in body:
            if str(answer.get("code")) in (SUCCESS, BUSINESS_FAILED):
                raise AlipayUnavailable(None, None, "an unsigned answer")
            return answer  # a refusal of the call, before Alipay knew whose it was
        try:
            return self._verify_and_return_sync_response(text, response_type)
        except (AliPayException, AliPayValidationError, ValueError):
            raise AlipayUnavailable(None, None, "the answer's signature does not verify") from None


class Alipay:
    """Alipay's open platform for one app: WAP payments, queries, refunds, bills, notifies."""

    def __init__(
        self,
        appid,
        app_private_key,
        alipay_public_key,
        gateway,
        notify_url,
        *,
        seller_id,
        timeout=TIMEOUT_SECONDS,
        deadline=DEADLINE_SECONDS,
    ):
        self.appid = str(appid)
        self.seller_id = str(seller_id)
        self.gateway = gateway
        self.notify_url = notify_url
        self.timeout = timeout
        self.deadline = deadline
        self._http = requests.Session()
        self._sdk = _AliPay(
            functools.partial(self._fetch, max_bytes=MAX_ANSWER_BYTES, redirects=False),
            appid=self.appid,
            app_notify_url=notify_url,
            app_private_key_string=app_private_key,
            alipay_public_key_string=alipay_public_key,
            sign_type="RSA2",
            config=AliPayConfig(timeout=timeout),  # unused while verified_sync_response is ours
        )
        self._sdk._gateway = gateway  # the SDK has no setting for it

    @classmethod
    def from_config(cls, config=None, **kwargs):
        """An adapter on ``config`` (default: the current app's)."""
        config = current_app.config if config is None else config
        return cls(
            config["ALIPAY_APPID"],
            config["ALIPAY_APP_PRIVATE_KEY"],
            config["ALIPAY_PUBLIC_KEY"],
            config["ALIPAY_GATEWAY"],
            config["PUBLIC_BASE_URL"] + WEBHOOK_PATH,
            seller_id=config["ALIPAY_SELLER_ID"],
            **kwargs,
        )

    def close_connections(self) -> None:
        """Close the kept connections; a later call opens a new one."""
        self._http.close()

    # --- Payments ------------------------------------------------------------------------------

    def wap_pay_url(
        self,
        out_trade_no: str,
        subject: str,
        amount_fen: int,
        expires_at: datetime,
        return_url: str | None = None,
        *,
        quit_url: str | None = None,
        notify_url: str | None = None,
    ) -> str:
        """The cashier (收银台) URL on the gateway for the patient's browser; signed, no call made.

        The trade cannot be paid after ``expires_at`` (time_expire), so give it the hold's expiry.
        Alipay sends the payer back to ``return_url`` after paying and to ``quit_url`` (default:
        return_url) when they give up; the notify goes to ``notify_url`` (default: our webhook).
        ``subject`` loses the characters Alipay forbids in it (/ = &) and is cut to 256.
        """
        _check_out_no("out_trade_no", out_trade_no)
        total_amount = fen_to_yuan(amount_fen)
        if amount_fen < 1:
            raise InvalidAmount("a payment must be at least 1 fen")
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be an aware datetime")
        extra = {}
        if quit_url or return_url:
            extra["quit_url"] = quit_url or return_url
        query = self._sdk.api_alipay_trade_wap_pay(
            subject=_clean_subject(subject),
            out_trade_no=out_trade_no,
            total_amount=total_amount,
            return_url=return_url,
            notify_url=notify_url,
            product_code="QUICK_WAP_WAY",  # the SDK's default, QUICK_WAP_PAY, is not Alipay's
            time_expire=_stamp(expires_at),
            **extra,
        )
        return self.gateway + "?" + query

    def query(self, out_trade_no: str) -> Trade | None:
        """The trade as Alipay has it, or None when Alipay has none (the cashier was never
        opened)."""
        try:
            answer = self._call(self._sdk.api_alipay_trade_query, out_trade_no=out_trade_no)
        except AlipayRejected as rejected:
            if rejected.sub_code == TRADE_NOT_EXIST:
                return None
            raise
        return self._read(answer, _trade)

    def close(self, out_trade_no: str) -> bool:
        """Close an unpaid trade so it cannot be paid: True when closed now, False when Alipay
        has no such trade. A paid or already closed trade raises AlipayRejected
        (ACQ.TRADE_STATUS_ERROR): query it to tell which."""
        try:
            self._call(self._sdk.api_alipay_trade_close, out_trade_no=out_trade_no)
        except AlipayRejected as rejected:
            if rejected.sub_code == TRADE_NOT_EXIST:
                return False
            raise
        log.info("Alipay trade %s closed", out_trade_no)
        return True

    # --- Refunds -------------------------------------------------------------------------------

    def refund(
        self, out_trade_no: str, out_request_no: str, refund_fen: int, reason: str
    ) -> RefundResult:
        """Refund ``refund_fen`` of a paid trade, once per ``out_request_no``.

        Asking again with the same out_request_no and amount refunds nothing more (fund_change
        False): retry a refund whose outcome is unknown with the same number. More than is left
        to refund raises AlipayRejected (ACQ.REASON_TRADE_REFUND_FEE_ERR).
        """
        _check_out_no("out_request_no", out_request_no)
        refund_amount = fen_to_yuan(refund_fen)
        if refund_fen < 1:
            raise InvalidAmount("a refund must be at least 1 fen")
        answer = self._call(
            self._sdk.api_alipay_trade_refund,
            refund_amount,
            out_trade_no=out_trade_no,
            out_request_no=out_request_no,
            refund_reason=reason,
        )
        result = self._read(answer, _refund, out_request_no=out_request_no, refund_fen=refund_fen)
        log.info(
            "Alipay refund %s of %s: %s fen, fund_change %s",
            out_request_no,
            out_trade_no,
            refund_fen,
            result.fund_change,
        )
        return result

    def query_refund(self, out_trade_no: str, out_request_no: str) -> RefundResult | None:
        """The refund ``out_request_no`` of a trade, or None when Alipay has not made it."""
        try:
            answer = self._call(
                self._sdk.server_api,
                "alipay.trade.fastpay.refund.query",
                {
                    "out_trade_no": out_trade_no,
                    "out_request_no": out_request_no,
                    "query_options": ["gmt_refund_pay"],
                },
            )
        except AlipayRejected as rejected:
            if rejected.sub_code == TRADE_NOT_EXIST:
                return None
            raise
        # Alipay's answer to "no such refund" is a success without refund_amount.
        if not answer.get("refund_amount"):
            return None
        if answer.get("refund_status") not in (None, "", "REFUND_SUCCESS"):
            return None
        return self._read(answer, _queried_refund)

    # --- Reconciliation ------------------------------------------------------------------------

    def trade_bill(self, bill_date: date) -> list[BillRow]:
        """The payments and refunds of ``bill_date`` (Beijing) from Alipay's daily trade bill.

        Alipay makes a day's bill from about 9:00 the next day; before that, or for a day without
        trades, it answers AlipayRejected with sub_code isp.bill_not_exist.
        """
        if not isinstance(bill_date, date) or isinstance(bill_date, datetime):
            raise TypeError("bill_date must be a date")
        answer = self._call(
            self._sdk.server_api,
            "alipay.data.dataservice.bill.downloadurl.query",
            {"bill_type": "trade", "bill_date": bill_date.isoformat()},
        )
        url = answer.get("bill_download_url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise AlipayUnavailable(None, None, "the answer has no bill_download_url")
        return _bill_rows(self._fetch(url, max_bytes=MAX_BILL_BYTES, redirects=True))

    # --- Notifies ------------------------------------------------------------------------------

    def verify_notification(self, form: Mapping, now=None) -> Notification:
        """The notify in ``form`` (the POSTed fields) if Alipay sent it for our app and our
        merchant, and lately, else raise NotificationInvalid. Whether it matches the order
        (amount, state) is the caller's part."""
        data = _single_values(form)
        sign = data.pop("sign", None)
        if not sign:
            raise NotificationInvalid("no sign")
        if data.get("sign_type") != "RSA2":
            raise NotificationInvalid(f"sign_type {data.get('sign_type')!r}, not RSA2")
        try:
            verified = self._sdk.verify(dict(data), sign)  # drops sign_type from its copy
        except (AliPayException, ValueError):
            verified = False
        if not verified:
            raise NotificationInvalid("the signature does not verify")
        if data.get("app_id") != self.appid:
            raise NotificationInvalid(f"for app_id {data.get('app_id')!r}, not ours")
        # Signed by Alipay for our app, yet a payment to another merchant's account (an app can
        # be authorised for several): it did not pay us.
        if data.get("seller_id") != self.seller_id:
            raise NotificationInvalid(f"for seller_id {data.get('seller_id')!r}, not ours")
        if data.get("notify_type") != "trade_status_sync":
            raise NotificationInvalid(f"notify_type {data.get('notify_type')!r}")
        try:
            sent_at = _parse_time(data["notify_time"])
        except (KeyError, ValueError):
            raise NotificationInvalid("no readable notify_time") from None
        # Alipay resends an unanswered notify for about 25 hours: anything older is a replay.
        if not -NOTIFY_SKEW <= (now or clock.now()) - sent_at <= NOTIFY_MAX_AGE:
            raise NotificationInvalid(f"notify_time {data['notify_time']} is out of date")
        try:
            return Notification(
                notify_id=_required(data, "notify_id"),
                app_id=data["app_id"],
                trade_status=TradeStatus(data.get("trade_status")),
                out_trade_no=_required(data, "out_trade_no"),
                trade_no=_required(data, "trade_no"),
                total_fen=yuan_to_fen(data.get("total_amount")),
                gmt_payment=_parse_time(data["gmt_payment"]) if data.get("gmt_payment") else None,
                refunded_fen=yuan_to_fen(data["refund_fee"]) if data.get("refund_fee") else None,
            )
        except (KeyError, ValueError) as exc:  # InvalidAmount is a ValueError
            raise NotificationInvalid(f"unreadable: {exc}") from None

    # --- The wire ------------------------------------------------------------------------------

    def _call(self, func, *args, **kwargs):
        """Run one SDK call: the verified answer when its code is 10000, else raise."""
        answer = func(*args, **kwargs)
        _raise_for(answer)
        return answer

    @staticmethod
    def _read(answer, parse, **kwargs):
        try:
            return parse(answer, **kwargs)
        except (KeyError, TypeError, ValueError) as exc:
            raise AlipayUnavailable(None, None, f"unreadable answer: {exc!r}") from exc

    def _fetch(self, url, *, max_bytes, redirects):
        """GET ``url``'s body: connect and read timeouts, a deadline for it all, a size cap."""
        deadline = time.monotonic() + self.deadline
        try:
            with self._http.get(
                url,
                timeout=(self.timeout, self.timeout),
                stream=True,
                allow_redirects=redirects,
                headers={"Accept-Encoding": "identity"},
            ) as response:
                if response.status_code != 200:
                    raise AlipayUnavailable(None, None, f"HTTP {response.status_code}")
                body = bytearray()
                # read1 returns after one read of the socket, so the deadline is checked often
                # even when the other end trickles bytes.
                while chunk := response.raw.read1(READ_CHUNK_BYTES):
                    body += chunk
                    if len(body) > max_bytes:
                        raise AlipayUnavailable(None, None, "the answer is too large")
                    if time.monotonic() > deadline:
                        raise AlipayUnavailable(None, None, "the answer is too slow")
        except (requests.RequestException, OSError) as exc:
            raise AlipayUnavailable(None, None, type(exc).__name__) from exc
        return bytes(body)


def _check_out_no(name, value):
    if not isinstance(value, str) or not OUT_NO.fullmatch(value):
        raise ValueError(f"{name} must be 1-64 letters, digits or underscores: {value!r}")


def _clean_subject(subject):
    cleaned = " ".join(SUBJECT_FORBIDDEN.sub(" ", subject).split())
    if not cleaned:
        raise ValueError("subject must not be empty")
    return cleaned[:SUBJECT_MAX_LENGTH]


def _single_values(form):
    """The form's fields, each once: a field sent twice could be read differently by the
    signature check and by us, so it makes the notify invalid."""
    getlist = getattr(form, "getlist", None)
    data = {}
    for name in form:
        if getlist is not None and len(getlist(name)) != 1:
            raise NotificationInvalid(f"field {name!r} sent more than once")
        value = form[name]
        if not isinstance(value, str):
            raise NotificationInvalid(f"field {name!r} is not text")
        data[name] = value
    return data


def _required(data, name):
    value = data.get(name)
    if not value:
        raise KeyError(name)
    return value


def _trade(answer):
    return Trade(
        out_trade_no=answer["out_trade_no"],
        trade_no=answer["trade_no"],
        trade_status=TradeStatus(answer["trade_status"]),
        amount_fen=yuan_to_fen(answer["total_amount"]),
        paid_at=_parse_time(answer["send_pay_date"]) if answer.get("send_pay_date") else None,
        buyer_logon_id=answer.get("buyer_logon_id"),
    )


def _refund(answer, *, out_request_no, refund_fen):
    refunded_at = answer.get("gmt_refund_pay")
    return RefundResult(
        out_trade_no=answer["out_trade_no"],
        trade_no=answer["trade_no"],
        out_request_no=out_request_no,
        refund_fen=refund_fen,
        fund_change=answer["fund_change"] == "Y",
        refunded_total_fen=yuan_to_fen(answer["refund_fee"]),
        refunded_at=_parse_time(refunded_at) if refunded_at else None,
    )


def _queried_refund(answer):
    refunded_at = answer.get("gmt_refund_pay")
    return RefundResult(
        out_trade_no=answer["out_trade_no"],
        trade_no=answer["trade_no"],
        out_request_no=answer["out_request_no"],
        refund_fen=yuan_to_fen(answer["refund_amount"]),
        fund_change=False,
        refunded_total_fen=None,
        refunded_at=_parse_time(refunded_at) if refunded_at else None,
    )


# --- The bill: a zip of GBK CSVs ------------------------------------------------------------------


def _bill_rows(archive):
    """The 业务明细 rows of a bill zip. The entries are told apart by their header line, not by
    their names, which Alipay writes in GBK without saying so (zipfile reads them as cp437)."""
    try:
        bundle = zipfile.ZipFile(io.BytesIO(archive))
        for entry in bundle.infolist():
            if entry.file_size > MAX_BILL_BYTES:
                raise AlipayUnavailable(None, None, "the bill is too large")
            lines = bundle.read(entry).decode("gb18030").splitlines()
            for at, line in enumerate(lines):
                if line.startswith(BILL_DETAIL_FIRST_COLUMN + ","):
                    return _detail_rows(lines[at:])
    except (zipfile.BadZipFile, UnicodeDecodeError, KeyError, ValueError) as exc:
        raise AlipayUnavailable(None, None, f"unreadable bill: {exc!r}") from exc
    raise AlipayUnavailable(None, None, "the bill has no 业务明细")


def _detail_rows(lines):
    """BillRows from the header line on, up to the closing ``#---...`` line."""
    reader = csv.reader(lines)
    columns = {name.strip(): at for at, name in enumerate(next(reader))}
    rows = []
    for record in reader:
        if not record or record[0].startswith("#"):
            break
        value = {name: record[at].strip() for name, at in columns.items() if at < len(record)}
        kind = value["业务类型"]
        if kind == "交易":
            kind, amount = "payment", value["订单金额（元）"]
        elif kind == "退款":  # the merchant's receipt is negative: what went back
            kind, amount = "refund", value["商家实收（元）"].removeprefix("-")
        else:
            log.warning("Alipay bill line of type %r skipped: %s", kind, value["支付宝交易号"])
            continue
        rows.append(
            BillRow(
                out_trade_no=value["商户订单号"],
                trade_no=value["支付宝交易号"],
                type=kind,
                amount_fen=yuan_to_fen(amount),
                time=_parse_time(value["完成时间"]),
                out_request_no=value.get("退款批次号/请求号") or None,
            )
        )
    return rows


# --- The current app's adapter --------------------------------------------------------------------

_SETTINGS = (
    "ALIPAY_APPID",
    "ALIPAY_SELLER_ID",
    "ALIPAY_APP_PRIVATE_KEY",
    "ALIPAY_PUBLIC_KEY",
    "ALIPAY_GATEWAY",
    "PUBLIC_BASE_URL",
)


def client() -> Alipay:
    """The current app's adapter (app/integrations/kept.py), rebuilt when its settings change."""
    config = current_app.config
    settings = tuple(config[name] for name in _SETTINGS)
    return kept.current("alipay", settings, lambda: Alipay.from_config(config))


def wap_pay_url(out_trade_no, subject, amount_fen, expires_at, return_url=None, **kwargs) -> str:
    """The signed cashier URL for the patient's browser; it stops working at ``expires_at``."""
    return client().wap_pay_url(out_trade_no, subject, amount_fen, expires_at, return_url, **kwargs)


def query(out_trade_no) -> Trade | None:
    """The trade as Alipay has it, or None when it has none."""
    return client().query(out_trade_no)


def close(out_trade_no) -> bool:
    """Close an unpaid trade: True when closed now, False when Alipay has no such trade."""
    return client().close(out_trade_no)


def refund(out_trade_no, out_request_no, refund_fen, reason) -> RefundResult:
    """Refund ``refund_fen`` of a paid trade, once per ``out_request_no``."""
    return client().refund(out_trade_no, out_request_no, refund_fen, reason)


def query_refund(out_trade_no, out_request_no) -> RefundResult | None:
    """The refund ``out_request_no`` of a trade, or None when Alipay has not made it."""
    return client().query_refund(out_trade_no, out_request_no)


def trade_bill(bill_date) -> list[BillRow]:
    """The payments and refunds of ``bill_date`` from Alipay's daily trade bill."""
    return client().trade_bill(bill_date)


def verify_notification(form, now=None) -> Notification:
    """The verified notify in ``form``, else NotificationInvalid."""
    return client().verify_notification(form, now)
