"""WeChat Pay APIv3 for the mini-program (JSAPI): prepay, query, close, refund, bill, notifications.

Built from config in "WeChat Pay public key" mode: WECHATPAY_MCHID, WECHATPAY_MERCHANT_PRIVATE_KEY
and WECHATPAY_MERCHANT_SERIAL_NO sign our requests; WECHATPAY_PUBLIC_KEY (id
WECHATPAY_PUBLIC_KEY_ID) verifies WeChat Pay's answers and notifications; WECHATPAY_APIV3_KEY
decrypts notification resources; WECHAT_APPID is the mini-program. Every call goes under
WECHATPAY_API_BASE (https://api.mch.weixin.qq.com in production, the /sandbox/wechatpay stand-in
elsewhere, so tests run this very code); notifications are asked for at PUBLIC_BASE_URL +
/webhooks/wechatpay.

The wire rules (signatures both ways, resource encryption, times) are ``app.protocols.wechatpay``,
which the stand-in uses too; tests/unit/test_wechatpay_signing.py holds them against wechatpayv3,
an independent implementation. Here:

- Requests are signed over the path (and query) below WECHATPAY_API_BASE exactly as sent and the
  exact body bytes sent, and go through one kept HTTP session per adapter (and process): its
  connections (and, in production, their TLS sessions) serve call after call, and it keeps no
  cookies. A call whose kept connection the gateway had closed is signed and sent once more.
  Proxy and CA settings of the environment (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE) are read
  once, when the adapter is built.
- A 2xx answer counts only when its Wechatpay-Signature verifies under our public key, under our
  public key id as Wechatpay-Serial, within 5 minutes of our clock; anything else is
  WeChatPayUnavailable("RESPONSE_UNVERIFIED"), and no platform certificate is ever fetched.
  Error (4xx/5xx) answers carry no trusted signature; TLS is what protects them. A bill download
  is not signed either: its SHA1, from the signed tradebill answer, is checked instead.
- Failures raise WeChatPayRejected (WeChat refused: a 4xx with WeChat's error, ``.code`` as
  WeChat answered) or WeChatPayUnavailable (network, timeout, 5xx, SYSTEM_ERROR, an answer that is
  not WeChat's such as a redirect or a proxy's, an unverifiable or malformed answer, a corrupted
  bill): retry those later.
- ``parse_notification`` refuses a notification timestamp more than 5 minutes from our clock.

Amounts are integer fen everywhere. Usage: ``wechatpay.prepay(...)``, ``wechatpay.query(...)``, …
inside an app context, or ``WeChatPay.from_config(config)`` for an adapter on other settings.
"""

import gzip
import hashlib
import hmac
import json
import logging
import re
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from http.client import RemoteDisconnected
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlsplit

import requests
from flask import current_app
from requests.adapters import HTTPAdapter

from app.domain.clock import CHINA_TZ
from app.integrations import kept
from app.protocols import wechatpay as protocol

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = (5, 10)  # (connect, read)
# Connections kept to the gateway: one per thread of a gthread worker (gunicorn.conf.py).
KEPT_CONNECTIONS = 16
USER_AGENT = "booking-wechatpay/1 (python-requests)"  # WeChat Pay refuses a call without one
NOTIFY_PATH = "/webhooks/wechatpay"
CURRENCY = "CNY"
# WeChat allows "|" too, but it would have to be percent-encoded in URL paths, and the signed path
# and the one sent would have to agree on how: we never use it.
OUT_TRADE_NO = re.compile(r"[A-Za-z0-9_*-]{6,32}")
OUT_REFUND_NO = re.compile(r"[A-Za-z0-9_*@-]{1,64}")
GZIP_MAGIC = b"\x1f\x8b"

# Transaction trade_state values.
NOTPAY, SUCCESS, CLOSED, REFUND = "NOTPAY", "SUCCESS", "CLOSED", "REFUND"
# Refund status values (SUCCESS and CLOSED as above).
PROCESSING, ABNORMAL = "PROCESSING", "ABNORMAL"

# Codes WeChat uses for its own trouble: worth a retry, unlike a business refusal.
_UNAVAILABLE_CODES = frozenset(
    {"SYSTEM_ERROR", "SYSTEMERROR", "BANK_ERROR", "BANKERROR", "FREQUENCY_LIMITED"}
)


class WeChatPayError(Exception):
    """WeChat Pay did not do what was asked: HTTP ``status`` (None without an answer), WeChat's
    ``code`` (or ours, in capitals, when the failure was on our side) and ``message``."""

    def __init__(self, status, code, message):
        super().__init__(f"WeChat Pay error {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class WeChatPayUnavailable(WeChatPayError):
    """No trustworthy answer: network trouble, timeout, 5xx, SYSTEM_ERROR, a rate limit, an answer
    whose signature does not verify (RESPONSE_UNVERIFIED) or that is malformed (MALFORMED_RESPONSE),
    a bill that does not match its hash (BILL_HASH_MISMATCH). Try again later."""


class WeChatPayRejected(WeChatPayError):
    """WeChat Pay refused the request (4xx): ``code`` is WeChat's, e.g. ORDER_NOT_EXIST,
    RESOURCE_NOT_EXISTS, ORDERPAID, ORDER_CLOSED, INVALID_REQUEST, PARAM_ERROR, NOT_ENOUGH,
    SIGN_ERROR (our key or serial is wrong: a configuration fault)."""


class NotificationInvalid(Exception):
    """A notification we must not trust; ``reason`` says why (answer it with a 4xx so that a
    genuine one is retried)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


# --- What WeChat Pay answers -------------------------------------------------------------------


def _optional_time(value):
    return protocol.parse_time(value) if value else None


def _fen(value, name):
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} is not a whole number of fen: {value!r}")
    return value


@dataclass(frozen=True)
class Transaction:
    """A JSAPI transaction as WeChat Pay reports it (query API or TRANSACTION.* notification).

    ``trade_state``: NOTPAY, SUCCESS, CLOSED, REFUND (paid, then a refund was applied for),
    or USERPAYING, PAYERROR, REVOKED. ``transaction_id``, ``success_time``, ``payer_total_fen``
    and ``openid`` are set once paid.
    """

    out_trade_no: str
    trade_state: str
    trade_state_desc: str
    transaction_id: str | None
    amount_fen: int
    payer_total_fen: int | None
    currency: str
    success_time: datetime | None
    openid: str | None
    appid: str
    mchid: str

    @classmethod
    def from_wire(cls, data: Mapping) -> "Transaction":
        """From WeChat's JSON; ValueError, KeyError or TypeError when it is not a transaction."""
        amount = data.get("amount") or {}
        payer_total = amount.get("payer_total")
        return cls(
            out_trade_no=str(data["out_trade_no"]),
            trade_state=str(data["trade_state"]),
            trade_state_desc=str(data.get("trade_state_desc") or ""),
            transaction_id=data.get("transaction_id") or None,
            amount_fen=_fen(amount.get("total"), "amount.total"),
            payer_total_fen=None if payer_total is None else _fen(payer_total, "payer_total"),
            currency=str(amount.get("currency") or CURRENCY),
            success_time=_optional_time(data.get("success_time")),
            openid=(data.get("payer") or {}).get("openid") or None,
            appid=str(data["appid"]),
            mchid=str(data["mchid"]),
        )


@dataclass(frozen=True)
class Refund:
    """A refund as WeChat Pay reports it (refund APIs or REFUND.* notification).

    ``status``: PROCESSING, then SUCCESS, ABNORMAL (stuck: the payer's account cannot take it) or
    CLOSED. ``create_time`` is absent from notifications; ``success_time`` is set on SUCCESS.
    """

    out_refund_no: str
    refund_id: str
    out_trade_no: str
    transaction_id: str
    status: str
    refund_fen: int
    total_fen: int
    payer_refund_fen: int | None
    currency: str
    create_time: datetime | None
    success_time: datetime | None
    user_received_account: str | None

    @classmethod
    def from_wire(cls, data: Mapping) -> "Refund":
        """From WeChat's JSON (``status`` in answers, ``refund_status`` in notifications)."""
        amount = data.get("amount") or {}
        payer_refund = amount.get("payer_refund")
        return cls(
            out_refund_no=str(data["out_refund_no"]),
            refund_id=str(data["refund_id"]),
            out_trade_no=str(data["out_trade_no"]),
            transaction_id=str(data["transaction_id"]),
            status=str(data.get("status") or data["refund_status"]),
            refund_fen=_fen(amount.get("refund"), "amount.refund"),
            total_fen=_fen(amount.get("total"), "amount.total"),
            payer_refund_fen=None if payer_refund is None else _fen(payer_refund, "payer_refund"),
            currency=str(amount.get("currency") or CURRENCY),
            create_time=_optional_time(data.get("create_time")),
            success_time=_optional_time(data.get("success_time")),
            user_received_account=data.get("user_received_account"),
        )


@dataclass(frozen=True)
class Notification:
    """A verified, decrypted notification. ``resource`` is the decrypted object; ``transaction``
    is set for TRANSACTION.* events, ``refund`` for REFUND.* events."""

    id: str
    event_type: str
    create_time: datetime
    summary: str
    original_type: str | None
    resource: dict = field(repr=False)
    transaction: Transaction | None = None
    refund: Refund | None = None


@dataclass(frozen=True)
class BillRow:
    """One line of a trade bill: a payment (trade_status SUCCESS) or a refund (REFUND, REVOKED).

    ``trade_time`` is when it was paid, or when the refund was applied for. ``amount_fen`` is the
    settled order amount (应结订单金额), ``refund_fen`` the refunded amount (退款金额), ``fee_fen``
    WeChat's fee; columns absent from this kind of bill are None.
    """

    trade_time: datetime
    appid: str
    mchid: str
    transaction_id: str
    out_trade_no: str
    openid: str
    trade_type: str
    trade_status: str
    currency: str
    amount_fen: int
    order_amount_fen: int | None
    refund_id: str | None
    out_refund_no: str | None
    refund_fen: int | None
    refund_requested_fen: int | None
    refund_type: str | None
    refund_status: str | None
    description: str
    attach: str
    fee_fen: int
    fee_rate: str


@dataclass(frozen=True)
class BillSummary:
    """The bill's closing totals (汇总数据); None for a total this kind of bill does not give."""

    count: int
    amount_fen: int
    refund_fen: int | None
    fee_fen: int
    order_amount_fen: int | None
    refund_requested_fen: int | None


@dataclass(frozen=True)
class TradeBill:
    """A day's trade bill (ALL): its rows and summary; no rows and no summary on a day without
    any trade (WeChat answers NO_STATEMENT_EXIST)."""

    bill_date: date
    rows: list[BillRow]
    summary: BillSummary | None


# --- The adapter --------------------------------------------------------------------------------


class WeChatPay:
    """WeChat Pay APIv3 for one merchant and one mini-program."""

    def __init__(
        self,
        *,
        mchid,
        appid,
        merchant_private_key,
        merchant_serial_no,
        apiv3_key,
        public_key,
        public_key_id,
        api_base,
        notify_url,
        timeout=TIMEOUT_SECONDS,
        http: requests.Session | None = None,
    ):
        """``http``: the session that carries the calls (default: a kept session of our own)."""
        self.mchid, self.appid = mchid, appid
        self.api_base = api_base.rstrip("/")
        self.notify_url = notify_url
        self.public_key_id = public_key_id
        self.timeout = timeout
        self._merchant_serial_no = merchant_serial_no
        self._merchant_key = protocol.load_private_key(merchant_private_key)
        self._apiv3_key = apiv3_key
        self._public_key = protocol.load_public_key(public_key)
        self._http = http if http is not None else _kept_session(self.api_base)
        self._base_path = urlsplit(self.api_base).path  # the stand-in's mount; "" in production

    @classmethod
    def from_config(cls, config=None) -> "WeChatPay":
        """An adapter on ``config`` (default: the current app's)."""
        config = current_app.config if config is None else config
        return cls(
            mchid=config["WECHATPAY_MCHID"],
            appid=config["WECHAT_APPID"],
            merchant_private_key=config["WECHATPAY_MERCHANT_PRIVATE_KEY"],
            merchant_serial_no=config["WECHATPAY_MERCHANT_SERIAL_NO"],
            apiv3_key=config["WECHATPAY_APIV3_KEY"],
            public_key=config["WECHATPAY_PUBLIC_KEY"],
            public_key_id=config["WECHATPAY_PUBLIC_KEY_ID"],
            api_base=config["WECHATPAY_API_BASE"],
            notify_url=config["PUBLIC_BASE_URL"].rstrip("/") + NOTIFY_PATH,
        )

    def close_connections(self) -> None:
        """Close the kept connections; a later call opens a new one."""
        self._http.close()

    # --- Payments --------------------------------------------------------------------------------

    def prepay(
        self,
        out_trade_no: str,
        description: str,
        amount_fen: int,
        openid: str,
        expires_at: datetime,
        notify_url: str | None = None,
    ) -> str:
        """Create (or, with identical parameters, find again) the JSAPI prepay; its prepay_id.

        ``expires_at`` (aware) is when the payer can no longer pay; ``notify_url`` overrides
        PUBLIC_BASE_URL + /webhooks/wechatpay. Repeating a prepay with other parameters is
        WeChatPayRejected INVALID_REQUEST; of a paid order ORDERPAID; of a closed one ORDER_CLOSED.
        """
        _check_out_trade_no(out_trade_no)
        _check_fen(amount_fen, "amount_fen")
        answer = self._json(
            "POST",
            "/v3/pay/transactions/jsapi",
            {
                "appid": self.appid,
                "mchid": self.mchid,
                "description": description,
                "out_trade_no": out_trade_no,
                "time_expire": protocol.format_time(expires_at),
                "notify_url": notify_url or self.notify_url,
                "amount": {"total": amount_fen, "currency": CURRENCY},
                "payer": {"openid": openid},
            },
        )
        prepay_id = answer.get("prepay_id")
        if not isinstance(prepay_id, str) or not prepay_id:
            raise WeChatPayUnavailable(
                200, "MALFORMED_RESPONSE", "prepay answered without prepay_id"
            )
        return prepay_id

    def request_payment_params(self, prepay_id: str) -> dict[str, str]:
        """What the mini-program passes to wx.requestPayment for ``prepay_id``, signed with the
        merchant key over ``appId\\ntimeStamp\\nnonceStr\\npackage\\n``."""
        timestamp = str(int(time.time()))
        nonce = protocol.nonce_str()
        package = f"prepay_id={prepay_id}"
        return {
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": protocol.rsa_sign(
                self._merchant_key, f"{self.appid}\n{timestamp}\n{nonce}\n{package}\n".encode()
            ),
        }

    def query(self, out_trade_no: str) -> Transaction | None:
        """The transaction ``out_trade_no`` as WeChat Pay knows it; None when WeChat has no such
        order (ORDER_NOT_EXIST: never prepaid, or prepaid under another mchid)."""
        _check_out_trade_no(out_trade_no)
        try:
            answer = self._json("GET", f"{_transaction_path(out_trade_no)}?mchid={self.mchid}")
        except WeChatPayRejected as exc:
            if exc.code in ("ORDER_NOT_EXIST", "ORDERNOTEXIST"):
                return None
            raise
        return self._parsed(Transaction, answer)

    def close(self, out_trade_no: str) -> None:
        """Close an unpaid transaction so that it can no longer be paid (closing twice is fine).
        A paid one is WeChatPayRejected ORDERPAID: query it and apply the payment instead."""
        _check_out_trade_no(out_trade_no)
        self._call("POST", f"{_transaction_path(out_trade_no)}/close", {"mchid": self.mchid})

    # --- Refunds ---------------------------------------------------------------------------------

    def refund(
        self,
        out_trade_no: str,
        out_refund_no: str,
        refund_fen: int,
        total_fen: int,
        reason: str | None = None,
        notify_url: str | None = None,
    ) -> Refund:
        """Apply for a refund of ``refund_fen`` of the paid ``total_fen``; it starts PROCESSING and
        its result comes as a REFUND.* notification. Repeating ``out_refund_no`` with the same
        amounts returns the same refund. More than is left to refund: WeChatPayRejected
        INVALID_REQUEST; merchant balance too low: NOT_ENOUGH."""
        _check_out_trade_no(out_trade_no)
        _check_out_refund_no(out_refund_no)
        _check_fen(refund_fen, "refund_fen")
        _check_fen(total_fen, "total_fen")
        body = {
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            **({"reason": reason} if reason else {}),
            "notify_url": notify_url or self.notify_url,
            "amount": {"refund": refund_fen, "total": total_fen, "currency": CURRENCY},
        }
        answer = self._json("POST", "/v3/refund/domestic/refunds", body)
        return self._parsed(Refund, answer)

    def query_refund(self, out_refund_no: str) -> Refund:
        """The refund ``out_refund_no``; WeChatPayRejected RESOURCE_NOT_EXISTS when unknown."""
        _check_out_refund_no(out_refund_no)
        answer = self._json("GET", f"/v3/refund/domestic/refunds/{out_refund_no}")
        return self._parsed(Refund, answer)

    # --- Bills -----------------------------------------------------------------------------------

    def trade_bill(self, bill_date: date) -> TradeBill:
        """Download the ALL trade bill of ``bill_date`` (China time), check it against WeChat's
        SHA1 (of the gunzipped file) and parse it. WeChat makes a day's bill after 10:00 the next
        day; a day without trades gives an empty bill."""
        try:
            answer = self._json(
                "GET",
                f"/v3/bill/tradebill?bill_date={bill_date.isoformat()}&bill_type=ALL&tar_type=GZIP",
            )
        except WeChatPayRejected as exc:
            if exc.code == "NO_STATEMENT_EXIST":
                return TradeBill(bill_date, [], None)
            raise
        url, hash_type, hash_value = (
            answer.get("download_url"),
            answer.get("hash_type"),
            answer.get("hash_value"),
        )
        if not isinstance(url, str) or not isinstance(hash_value, str) or hash_type != "SHA1":
            raise WeChatPayUnavailable(200, "MALFORMED_RESPONSE", "tradebill answer incomplete")
        if not url.startswith(self.api_base + "/"):
            # The download is signed with our key: never send it anywhere but the gateway.
            raise WeChatPayUnavailable(200, "MALFORMED_RESPONSE", "download_url off the gateway")
        _status, content = self._call("GET", url[len(self.api_base) :], verify=False)
        if content.startswith(GZIP_MAGIC):
            try:
                content = gzip.decompress(content)
            except (OSError, EOFError, zlib.error):
                raise WeChatPayUnavailable(200, "BILL_HASH_MISMATCH", "bill is not gzip") from None
        digest = hashlib.sha1(content, usedforsecurity=False).hexdigest()
        if not hmac.compare_digest(digest, hash_value.lower()):
            log.warning("WeChat Pay bill of %s does not match its SHA1", bill_date)
            raise WeChatPayUnavailable(200, "BILL_HASH_MISMATCH", "bill differs from its hash")
        try:
            rows, summary = parse_trade_bill(content)
        except (ValueError, KeyError, UnicodeDecodeError) as exc:
            raise WeChatPayUnavailable(200, "MALFORMED_RESPONSE", f"bill: {exc}") from None
        return TradeBill(bill_date, rows, summary)

    # --- Notifications ---------------------------------------------------------------------------

    def parse_notification(
        self, headers: Mapping[str, str], body: bytes, now: datetime | None = None
    ) -> Notification:
        """Verify and decrypt a notification as received (headers, raw body bytes).

        Raises NotificationInvalid unless the Wechatpay-Signature verifies under our WeChat Pay
        public key, Wechatpay-Serial is WECHATPAY_PUBLIC_KEY_ID, Wechatpay-Timestamp is within
        5 minutes of ``now``, and the resource decrypts under the APIv3 key to an object of our
        merchant (and, for payments, our mini-program).
        """
        if isinstance(body, str):
            body = body.encode()
        try:
            protocol.verify_signature_headers(
                headers,
                body,
                self._public_key,
                self.public_key_id,
                now=None if now is None else now.timestamp(),
            )
        except protocol.SignatureInvalid as exc:
            raise NotificationInvalid(exc.reason) from None
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            raise NotificationInvalid("body is not JSON") from None
        if not isinstance(data, dict):
            raise NotificationInvalid("body is not a JSON object")
        if data.get("resource_type") != "encrypt-resource":
            raise NotificationInvalid(f"unexpected resource_type {data.get('resource_type')!r}")
        event_type, event_id = data.get("event_type"), data.get("id")
        if not isinstance(event_type, str) or not isinstance(event_id, str) or not event_id:
            raise NotificationInvalid("notification lacks id or event_type")
        try:
            create_time = protocol.parse_time(data.get("create_time"))
        except ValueError:
            raise NotificationInvalid("create_time is not an RFC 3339 time") from None
        encrypted = data.get("resource")
        try:
            plaintext = protocol.decrypt_resource(self._apiv3_key, encrypted)
            resource = json.loads(plaintext)
        except protocol.ResourceUndecryptable as exc:
            raise NotificationInvalid(exc.reason) from None
        except (UnicodeDecodeError, ValueError):
            raise NotificationInvalid("decrypted resource is not JSON") from None
        if not isinstance(resource, dict):
            raise NotificationInvalid("decrypted resource is not a JSON object")
        if resource.get("mchid") != self.mchid:
            raise NotificationInvalid("notification is for another merchant")
        transaction = refund = None
        try:
            if event_type.startswith("TRANSACTION."):
                transaction = Transaction.from_wire(resource)
                if transaction.appid != self.appid:
                    raise NotificationInvalid("notification is for another appid")
            elif event_type.startswith("REFUND."):
                refund = Refund.from_wire(resource)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise NotificationInvalid(f"resource is not a {event_type} object: {exc}") from None
        return Notification(
            id=event_id,
            event_type=event_type,
            create_time=create_time,
            summary=str(data.get("summary") or ""),
            original_type=encrypted.get("original_type"),
            resource=resource,
            transaction=transaction,
            refund=refund,
        )

    # --- Calls -----------------------------------------------------------------------------------

    def _call(self, method, path, body=None, *, verify=True) -> tuple[int, bytes]:
        """Send one signed call of ``path`` (below WECHATPAY_API_BASE, with its query) and
        ``body`` (a JSON object, or None); (status, body bytes) of a 2xx answer whose signature
        verifies (unless ``verify`` is false), else raise this module's errors.

        A kept connection that the gateway closed while idle fails the call as it goes out; the
        call is then signed and sent once more on a new connection. Every call here may be
        repeated: a prepay or refund with the same numbers and amounts answers the same."""
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        headers = {
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            protocol.SERIAL_HEADER: self.public_key_id,
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = requests.Request(method, self.api_base + path, headers=headers, data=data or None)
        where = path.partition("?")[0]  # a bill's download token stays out of the logs
        for attempt in (1, 2):
            try:
                response = self._send(request, data)
                content = response.content
                break
            except requests.RequestException as exc:
                if attempt == 1 and _dropped(exc):
                    continue
                raise WeChatPayUnavailable(None, "NETWORK_ERROR", type(exc).__name__) from exc
        status = response.status_code
        if not 200 <= status < 300:
            code, message, theirs = _error_of(status, content)
            # Only WeChat's own refusal is final; a redirect or a proxy's answer is not WeChat's.
            rejected = theirs and 400 <= status < 500 and status != 429
            error = (
                WeChatPayRejected
                if rejected and code not in _UNAVAILABLE_CODES
                else WeChatPayUnavailable
            )
            log.warning("WeChat Pay refused %s %s: %s %s %s", method, where, status, code, message)
            raise error(status, code, message)
        if verify:
            try:
                protocol.verify_signature_headers(
                    response.headers, content, self._public_key, self.public_key_id
                )
            except protocol.SignatureInvalid as exc:
                log.warning("WeChat Pay's answer to %s %s: %s", method, where, exc.reason)
                raise WeChatPayUnavailable(status, "RESPONSE_UNVERIFIED", exc.reason) from None
        return status, content

    def _send(self, request: requests.Request, data: bytes) -> requests.Response:
        """Sign ``request`` over the path and query exactly as they will be sent (below the
        gateway's own path) and send it."""
        prepared = self._http.prepare_request(request)
        signed_path = prepared.path_url[len(self._base_path) :]
        prepared.headers["Authorization"] = protocol.build_authorization(
            self._merchant_key,
            self.mchid,
            self._merchant_serial_no,
            request.method,
            signed_path,
            data,
        )
        return self._http.send(prepared, timeout=self.timeout, allow_redirects=False)

    def _json(self, method, path, body=None) -> dict:
        status, content = self._call(method, path, body)
        try:
            answer = json.loads(content)
        except (TypeError, ValueError, UnicodeDecodeError):
            answer = None
        if not isinstance(answer, dict):
            raise WeChatPayUnavailable(status, "MALFORMED_RESPONSE", "answer is not a JSON object")
        return answer

    @staticmethod
    def _parsed(kind, answer):
        try:
            return kind.from_wire(answer)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise WeChatPayUnavailable(
                200, "MALFORMED_RESPONSE", f"{kind.__name__}: {exc}"
            ) from None


def _error_of(status, body) -> tuple[str, str, bool]:
    """``(code, message, True)`` of WeChat's error answer; ours and False for anything else."""
    try:
        answer = json.loads(body)
    except (TypeError, ValueError, UnicodeDecodeError):
        answer = None
    if isinstance(answer, dict) and isinstance(answer.get("code"), str):
        return answer["code"], str(answer.get("message") or ""), True
    return f"HTTP_{status}", "answer is not WeChat Pay's error JSON", False


def _dropped(error: BaseException) -> bool:
    """Whether a call failed because the other end had closed the connection it went out on."""
    pending, seen = [error], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, RemoteDisconnected | ConnectionResetError | BrokenPipeError):
            return True
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending += [cause for cause in (current.__cause__, current.__context__) if cause]
    return False


def _transaction_path(out_trade_no):
    return f"/v3/pay/transactions/out-trade-no/{out_trade_no}"


def _kept_session(api_base) -> requests.Session:
    """A session that keeps KEPT_CONNECTIONS connections to the gateway, with the environment's
    proxy and CA settings for it read now instead of at every call."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=KEPT_CONNECTIONS, max_retries=0)
    session.mount(api_base + "/", adapter)
    settings = session.merge_environment_settings(api_base, {}, None, None, None)
    session.proxies, session.verify = settings["proxies"], settings["verify"]
    session.trust_env = False
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # no state between calls
    return session


def _check_out_trade_no(out_trade_no):
    if not isinstance(out_trade_no, str) or not OUT_TRADE_NO.fullmatch(out_trade_no):
        raise ValueError(f"out_trade_no {out_trade_no!r} is not 6-32 of A-Z a-z 0-9 _-*")


def _check_out_refund_no(out_refund_no):
    if not isinstance(out_refund_no, str) or not OUT_REFUND_NO.fullmatch(out_refund_no):
        raise ValueError(f"out_refund_no {out_refund_no!r} is not 1-64 of A-Z a-z 0-9 _-*@")


def _check_fen(value, name):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive whole number of fen, not {value!r}")


# --- Trade bill format --------------------------------------------------------------------------

_SUMMARY_FIRST_COLUMN = "总交易单数"
_BILL_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_ID_COLUMNS = ("微信退款单号", "商户退款单号")  # "0" in payment rows


def _bill_fields(line):
    """The fields of a detail or summary line: each one starts with a backquote; split on ",`"
    rather than "," because descriptions (商品名称) may themselves contain commas."""
    if not line.startswith("`"):
        raise ValueError(f"bill line does not start with a backquote: {line[:40]!r}")
    return line[1:].split(",`")


def _bill_fen(text, *, fee=False):
    """Yuan as printed in bills ("12.34", fees "0.07000") → fen."""
    try:
        fen = Decimal(text) * 100
    except InvalidOperation:
        raise ValueError(f"not an amount: {text!r}") from None
    if fee:  # fees carry five decimals; WeChat rounds them to the fen
        return int(fen.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if fen != fen.to_integral_value():
        raise ValueError(f"amount is not whole fen: {text!r}")
    return int(fen)


def _optional(row, column, convert=str):
    value = row.get(column)
    if value is None or value == "" or (value == "0" and column in _ID_COLUMNS):
        return None
    return convert(value)


def parse_trade_bill(content: bytes) -> tuple[list[BillRow], BillSummary]:
    """The rows and summary of a trade bill file (ALL, SUCCESS or REFUND); ValueError if it is
    not one."""
    lines = [line for line in content.decode("utf-8-sig").splitlines() if line.strip()]
    if not lines:
        raise ValueError("bill is empty")
    columns = lines[0].split(",")
    try:
        cut = next(i for i, line in enumerate(lines) if line.startswith(_SUMMARY_FIRST_COLUMN))
    except StopIteration:
        raise ValueError("bill has no summary") from None
    if cut + 2 != len(lines):
        raise ValueError("bill summary is not the last two lines")
    rows = []
    for line in lines[1:cut]:
        fields = _bill_fields(line)
        if len(fields) != len(columns):
            raise ValueError(f"bill row has {len(fields)} fields for {len(columns)} columns")
        rows.append(_bill_row(dict(zip(columns, fields, strict=True))))
    summary_columns = lines[cut].split(",")
    values = _bill_fields(lines[cut + 1])
    if len(values) != len(summary_columns):
        raise ValueError("bill summary does not match its header")
    totals = dict(zip(summary_columns, values, strict=True))
    summary = BillSummary(
        count=int(totals["总交易单数"]),
        amount_fen=_bill_fen(totals["应结订单总金额"]),
        refund_fen=_optional(totals, "退款总金额", _bill_fen),
        fee_fen=_bill_fen(totals["手续费总金额"], fee=True),
        order_amount_fen=_optional(totals, "订单总金额", _bill_fen),
        refund_requested_fen=_optional(totals, "申请退款总金额", _bill_fen),
    )
    if summary.count != len(rows):
        raise ValueError(f"bill summary counts {summary.count} rows, the bill has {len(rows)}")
    return rows, summary


def _bill_row(row):
    trade_time = datetime.strptime(row["交易时间"], _BILL_TIME_FORMAT).replace(tzinfo=CHINA_TZ)
    return BillRow(
        trade_time=trade_time,
        appid=row["公众账号ID"],
        mchid=row["商户号"],
        transaction_id=row["微信订单号"],
        out_trade_no=row["商户订单号"],
        openid=row["用户标识"],
        trade_type=row["交易类型"],
        trade_status=row["交易状态"],
        currency=row["货币种类"],
        amount_fen=_bill_fen(row["应结订单金额"]),
        order_amount_fen=_optional(row, "订单金额", _bill_fen),
        refund_id=_optional(row, "微信退款单号"),
        out_refund_no=_optional(row, "商户退款单号"),
        refund_fen=_optional(row, "退款金额", _bill_fen),
        refund_requested_fen=_optional(row, "申请退款金额", _bill_fen),
        refund_type=_optional(row, "退款类型"),
        refund_status=_optional(row, "退款状态"),
        description=row["商品名称"],
        attach=row.get("商户数据包", ""),
        fee_fen=_bill_fen(row["手续费"], fee=True),
        fee_rate=row.get("费率", ""),
    )


# --- The current app's adapter -----------------------------------------------------------------

_SETTINGS = (
    "WECHATPAY_MCHID",
    "WECHAT_APPID",
    "WECHATPAY_MERCHANT_PRIVATE_KEY",
    "WECHATPAY_MERCHANT_SERIAL_NO",
    "WECHATPAY_APIV3_KEY",
    "WECHATPAY_PUBLIC_KEY",
    "WECHATPAY_PUBLIC_KEY_ID",
    "WECHATPAY_API_BASE",
    "PUBLIC_BASE_URL",
)


def client() -> WeChatPay:
    """The current app's adapter (app/integrations/kept.py), rebuilt when its settings change."""
    config = current_app.config
    settings = tuple(config[name] for name in _SETTINGS)
    return kept.current("wechatpay", settings, lambda: WeChatPay.from_config(config))


def prepay(out_trade_no, description, amount_fen, openid, expires_at, notify_url=None) -> str:
    """Create the JSAPI prepay of an order; its prepay_id."""
    return client().prepay(out_trade_no, description, amount_fen, openid, expires_at, notify_url)


def request_payment_params(prepay_id) -> dict[str, str]:
    """The signed wx.requestPayment parameters for ``prepay_id``."""
    return client().request_payment_params(prepay_id)


def query(out_trade_no) -> Transaction | None:
    """The transaction as WeChat Pay knows it; None when WeChat has no such order."""
    return client().query(out_trade_no)


def close(out_trade_no) -> None:
    """Close an unpaid transaction."""
    client().close(out_trade_no)


def refund(
    out_trade_no, out_refund_no, refund_fen, total_fen, reason=None, notify_url=None
) -> Refund:
    """Apply for a refund of ``refund_fen`` of a paid transaction of ``total_fen``."""
    return client().refund(out_trade_no, out_refund_no, refund_fen, total_fen, reason, notify_url)


def query_refund(out_refund_no) -> Refund:
    """The refund as WeChat Pay knows it."""
    return client().query_refund(out_refund_no)


def trade_bill(bill_date) -> TradeBill:
    """The verified, parsed ALL trade bill of ``bill_date``."""
    return client().trade_bill(bill_date)


def parse_notification(headers, body, now=None) -> Notification:
    """Verify and decrypt a WeChat Pay notification; NotificationInvalid when it is not one."""
    return client().parse_notification(headers, body, now)
