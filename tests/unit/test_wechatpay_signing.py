"""WeChat Pay APIv3 signing, AES-GCM resources and bill parsing, against fixed vectors and against
wechatpayv3's own implementation (an independent one, used here only); the adapter's calls through
a transport that answers what each test says; no network."""

import base64
import hashlib
import io
import json
import time
from datetime import UTC, date, datetime, timedelta
from http.client import RemoteDisconnected

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import ProtocolError
from wechatpayv3 import utils as sdk_utils

from app.domain.clock import CHINA_TZ
from app.integrations.wechatpay import (
    NotificationInvalid,
    WeChatPay,
    WeChatPayRejected,
    WeChatPayUnavailable,
    parse_trade_bill,
)
from app.protocols import wechatpay as protocol

APIV3_KEY = "0123456789abcdefghijklmnopqrstuv"
# AEAD_AES_256_GCM of PLAINTEXT under APIV3_KEY, nonce "fdasflkja484", associated data
# "transaction"; computed independently with pycryptodome's AES-GCM.
PLAINTEXT = b'{"out_trade_no":"T1217752501","amount":{"total":100}}'
CIPHERTEXT = (
    "kdUw5hwyZ7EmqIvJoZVgiweIZXw+EGE5c40LjomrVm4owzc/f8raBPu9+JKTDYDTqyPf0gTJt8vYf/gWDNxWgEk2lLxd"
)
PUBLIC_KEY_ID = "PUB_KEY_ID_0114232134912410000000000000000000"
MCHID = "1900000109"
MERCHANT_SERIAL_NO = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
BASE = "https://api.mch.example/base"  # a gateway under a path, as the stand-in is
APPID = "wx0000000000000001"


def _pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _public_pem(key):
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def merchant_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def platform_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _adapter(merchant_key, platform_key, api_base, http=None):
    return WeChatPay(
        mchid=MCHID,
        appid=APPID,
        merchant_private_key=_pem(merchant_key),
        merchant_serial_no=MERCHANT_SERIAL_NO,
        apiv3_key=APIV3_KEY,
        public_key=_public_pem(platform_key),
        public_key_id=PUBLIC_KEY_ID,
        api_base=api_base,
        notify_url="https://hospital.example/webhooks/wechatpay",
        http=http,
    )


@pytest.fixture(scope="module")
def adapter(merchant_key, platform_key):
    """An adapter on an unreachable gateway: these tests must never need the network."""
    return _adapter(merchant_key, platform_key, "http://127.0.0.1:1")


# --- Messages ------------------------------------------------------------------------------------


def test_request_message_matches_the_documentation():
    # WeChat Pay's signing guide: GET /v3/certificates at 1554208460 with that nonce, no body.
    message = protocol.request_message(
        "GET", "/v3/certificates", "1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242", b""
    )
    assert message == b"GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"


def test_response_message_matches_the_documentation():
    body = b'{"prepay_id":"wx2922034726858082fbd40b511c67630000"}'
    message = protocol.response_message("1554209980", "c5ac7061fccab6bf3e254dcf98995b8c", body)
    assert message == b"1554209980\nc5ac7061fccab6bf3e254dcf98995b8c\n" + body + b"\n"


# --- Request signatures: ours against wechatpayv3's -----------------------------------------------


def test_wechatpayv3_authorization_parses_and_verifies(merchant_key):
    body = {"mchid": MCHID, "description": "挂号费"}
    header = sdk_utils.build_authorization(
        "/v3/pay/transactions/jsapi", "POST", MCHID, "ABC123", merchant_key, data=body
    )

    credential = protocol.parse_authorization(header)

    assert (credential.mchid, credential.serial_no) == (MCHID, "ABC123")
    raw = json.dumps(body).encode()  # what requests sends for json=body
    public = merchant_key.public_key()
    assert protocol.verify_authorization(
        credential, public, "POST", "/v3/pay/transactions/jsapi", raw
    )
    assert not protocol.verify_authorization(credential, public, "POST", "/v3/other", raw)
    assert not protocol.verify_authorization(
        credential, public, "POST", "/v3/pay/transactions/jsapi", raw + b" "
    )


def test_our_authorization_is_what_wechatpayv3_builds(merchant_key):
    ours = protocol.build_authorization(
        merchant_key, MCHID, "ABC123", "GET", "/v3/x?a=1", timestamp=1554208460, nonce="N1"
    )
    signature = protocol.parse_authorization(ours).signature
    # PKCS#1 v1.5 signatures are deterministic: the same message gives the same signature.
    expected = sdk_utils.rsa_sign(merchant_key, "GET\n/v3/x?a=1\n1554208460\nN1\n\n")
    assert signature == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        'Bearer mchid="1"',
        'WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",signature="s",timestamp="1"',
        'WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",signature="s",timestamp="x",'
        'serial_no="a"',
        'WECHATPAY2-SHA256-RSA2048 mchid="1",mchid="2",nonce_str="n",signature="s",'
        'timestamp="1",serial_no="a"',
        "WECHATPAY2-SHA256-RSA2048 mchid=1,nonce_str=n,signature=s,timestamp=1,serial_no=a",
    ],
)
def test_malformed_authorizations_are_refused(header):
    with pytest.raises(protocol.MalformedAuthorization):
        protocol.parse_authorization(header)


# --- Response and notification signatures --------------------------------------------------------


def test_signature_headers_verify_under_wechatpayv3(platform_key):
    body = b'{"prepay_id":"wx1"}'

    headers = protocol.signature_headers(platform_key, PUBLIC_KEY_ID, body)

    assert headers["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048"
    assert sdk_utils.rsa_verify(
        headers["Wechatpay-Timestamp"],
        headers["Wechatpay-Nonce"],
        body.decode(),
        headers["Wechatpay-Signature"],
        platform_key.public_key(),
    )


def test_signature_headers_verify_case_insensitively(platform_key):
    body = b"{}"
    headers = protocol.signature_headers(platform_key, PUBLIC_KEY_ID, body)
    lower = {name.lower(): value for name, value in headers.items()}

    protocol.verify_signature_headers(lower, body, platform_key.public_key(), PUBLIC_KEY_ID)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h: h.pop("Wechatpay-Signature"), "missing"),
        (lambda h: h.update({"Wechatpay-Serial": "PUB_KEY_ID_OTHER"}), "not our public key id"),
        (lambda h: h.update({"Wechatpay-Signature-Type": "WECHATPAY2-SM2"}), "signature type"),
        (lambda h: h.update({"Wechatpay-Timestamp": str(int(time.time()) - 301)}), "clock"),
        (lambda h: h.update({"Wechatpay-Nonce": "other"}), "does not verify"),
        (lambda h: h.update({"Wechatpay-Signature": "WECHATPAY/SIGNTEST/abc"}), "does not verify"),
    ],
)
def test_broken_signature_headers_are_refused(platform_key, change, reason):
    body = b'{"id":"1"}'
    headers = protocol.signature_headers(platform_key, PUBLIC_KEY_ID, body)
    change(headers)

    with pytest.raises(protocol.SignatureInvalid) as invalid:
        protocol.verify_signature_headers(headers, body, platform_key.public_key(), PUBLIC_KEY_ID)

    assert reason in invalid.value.reason


def test_a_signature_by_another_key_is_refused(platform_key):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    headers = protocol.signature_headers(other, PUBLIC_KEY_ID, b"{}")

    with pytest.raises(protocol.SignatureInvalid):
        protocol.verify_signature_headers(headers, b"{}", platform_key.public_key(), PUBLIC_KEY_ID)


# --- AEAD_AES_256_GCM ----------------------------------------------------------------------------


def test_encrypt_resource_matches_the_fixed_vector():
    resource = protocol.encrypt_resource(
        APIV3_KEY, PLAINTEXT, "transaction", "transaction", nonce="fdasflkja484"
    )

    assert resource == {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": CIPHERTEXT,
        "nonce": "fdasflkja484",
        "associated_data": "transaction",
        "original_type": "transaction",
    }


def test_decrypt_resource_agrees_with_wechatpayv3():
    resource = protocol.encrypt_resource(APIV3_KEY, PLAINTEXT, "refund", "refund")

    assert protocol.decrypt_resource(APIV3_KEY, resource) == PLAINTEXT
    assert (
        sdk_utils.aes_decrypt(resource["nonce"], resource["ciphertext"], "refund", APIV3_KEY)
        == PLAINTEXT.decode()
    )


@pytest.mark.parametrize(
    "change",
    [
        {"ciphertext": base64.b64encode(b"x" * 40).decode()},
        {"ciphertext": "not base64!"},
        {"associated_data": "refund"},
        {"nonce": "otheronce123"},
        {"algorithm": "AES_128_CBC"},
        {"nonce": None},
    ],
)
def test_undecryptable_resources_are_refused(change):
    resource = {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": CIPHERTEXT,
        "nonce": "fdasflkja484",
        "associated_data": "transaction",
    } | change

    with pytest.raises(protocol.ResourceUndecryptable):
        protocol.decrypt_resource(APIV3_KEY, resource)


def test_a_resource_under_another_key_is_refused():
    resource = protocol.encrypt_resource("v" * 32, PLAINTEXT, "transaction", "transaction")

    with pytest.raises(protocol.ResourceUndecryptable):
        protocol.decrypt_resource(APIV3_KEY, resource)


# --- Times ---------------------------------------------------------------------------------------


def test_times_are_rfc3339_in_china():
    moment = datetime(2026, 11, 20, 1, 30, 5, 123, tzinfo=UTC)

    assert protocol.format_time(moment) == "2026-11-20T09:30:05+08:00"
    assert protocol.parse_time("2026-11-20T09:30:05+08:00") == moment.replace(microsecond=0)
    with pytest.raises(ValueError):
        protocol.format_time(datetime(2026, 11, 20, 9, 30))
    with pytest.raises(ValueError):
        protocol.parse_time("2026-11-20 09:30:05")


# --- The adapter, offline -------------------------------------------------------------------------


def _notification(platform_key, plaintext, *, event_type="TRANSACTION.SUCCESS", timestamp=None):
    body = json.dumps(
        {
            "id": "EV-2018022511223320873",
            "create_time": "2026-11-20T09:30:05+08:00",
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "支付成功",
            "resource": protocol.encrypt_resource(
                APIV3_KEY, json.dumps(plaintext).encode(), "transaction", "transaction"
            ),
        }
    ).encode()
    headers = protocol.signature_headers(platform_key, PUBLIC_KEY_ID, body, timestamp=timestamp)
    return headers, body


TRANSACTION = {
    "appid": APPID,
    "mchid": MCHID,
    "out_trade_no": "T1217752501",
    "transaction_id": "4200000000202611201234567890",
    "trade_type": "JSAPI",
    "trade_state": "SUCCESS",
    "trade_state_desc": "支付成功",
    "success_time": "2026-11-20T09:30:05+08:00",
    "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    "amount": {"total": 2500, "payer_total": 2500, "currency": "CNY", "payer_currency": "CNY"},
}


def test_a_notification_parses_at_its_time(adapter, platform_key):
    stamp = 1_795_000_000
    headers, body = _notification(platform_key, TRANSACTION, timestamp=stamp)

    notification = adapter.parse_notification(
        headers, body, now=datetime.fromtimestamp(stamp + 299, UTC)
    )

    assert notification.id == "EV-2018022511223320873"
    assert notification.create_time == datetime(2026, 11, 20, 9, 30, 5, tzinfo=CHINA_TZ)
    assert notification.transaction.amount_fen == 2500
    assert notification.transaction.success_time.utcoffset() == timedelta(hours=8)
    with pytest.raises(NotificationInvalid):
        adapter.parse_notification(headers, body, now=datetime.fromtimestamp(stamp + 301, UTC))
    with pytest.raises(NotificationInvalid):
        adapter.parse_notification(headers, body, now=datetime.fromtimestamp(stamp - 301, UTC))


@pytest.mark.parametrize(
    ("plaintext", "reason"),
    [
        (TRANSACTION | {"mchid": "1900000999"}, "another merchant"),
        (TRANSACTION | {"appid": "wx9999999999999999"}, "another appid"),
        (TRANSACTION | {"amount": {"total": "25.00"}}, "not a TRANSACTION.SUCCESS object"),
        ({"mchid": MCHID}, "not a TRANSACTION.SUCCESS object"),
    ],
)
def test_a_notification_not_for_us_is_invalid(adapter, platform_key, plaintext, reason):
    headers, body = _notification(platform_key, plaintext)

    with pytest.raises(NotificationInvalid) as invalid:
        adapter.parse_notification(headers, body)

    assert reason in invalid.value.reason


def test_a_signed_body_that_is_not_json_is_invalid(adapter, platform_key):
    body = b"<xml>v2</xml>"
    headers = protocol.signature_headers(platform_key, PUBLIC_KEY_ID, body)

    with pytest.raises(NotificationInvalid) as invalid:
        adapter.parse_notification(headers, body)

    assert "not JSON" in invalid.value.reason


def test_request_payment_params_sign_the_documented_message(adapter, merchant_key):
    params = adapter.request_payment_params("wx201410272009395522657a690389285100")

    message = f"{APPID}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
    assert protocol.rsa_verify(merchant_key.public_key(), message.encode(), params["paySign"])


# --- Trade bills ---------------------------------------------------------------------------------

# The ALL bill of WeChat's documentation (one payment), and its summary.
DOC_BILL = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
    "付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,"
    "退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n"
    "`2022-03-21 13:51:31,`wxfdc955f7104ad557,`180023671,`176531292,`,"
    "`420000612032130748613220688,`2021WERUN1647840687637,`oZWaCKXip5njeEiloC4oeOV1TTsk,`JSAPI,"
    "`SUCCESS,`OTHERS,`CNY,`0.01,`0.00,`0,`0,`0.00,`0.00,`,`,`微信云托管支付测试,`,`0.00000,"
    "`0.90%,`0.01,`0.00,`\r\n"
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n"
    "`1,`0.01,`0.00,`0.00,`0.00000,`0.01,`0.00\r\n"
)


def test_the_documented_bill_parses():
    [row], summary = parse_trade_bill(DOC_BILL.encode())

    assert row.trade_time == datetime(2022, 3, 21, 13, 51, 31, tzinfo=CHINA_TZ)
    assert (row.appid, row.mchid) == ("wxfdc955f7104ad557", "180023671")
    assert (row.transaction_id, row.out_trade_no) == (
        "420000612032130748613220688",
        "2021WERUN1647840687637",
    )
    assert (row.trade_status, row.amount_fen, row.order_amount_fen) == ("SUCCESS", 1, 1)
    assert (row.refund_id, row.out_refund_no, row.refund_fen, row.refund_status) == (
        None,
        None,
        0,
        None,
    )
    assert (row.description, row.fee_fen, row.fee_rate) == ("微信云托管支付测试", 0, "0.90%")
    assert (summary.count, summary.amount_fen, summary.refund_fen, summary.fee_fen) == (1, 1, 0, 0)


def test_a_description_with_commas_survives():
    bill = DOC_BILL.replace("微信云托管支付测试", "挂号费,心内科,王医生")

    [row], _ = parse_trade_bill(bill.encode())

    assert row.description == "挂号费,心内科,王医生"


@pytest.mark.parametrize(
    "change",
    [
        lambda bill: bill.replace("`1,`0.01", "`2,`0.01"),  # summary counts another row
        lambda bill: bill.replace("`0.01,`0.00,`0,", "`0.015,`0.00,`0,"),  # a fraction of a fen
        lambda bill: bill.replace("`SUCCESS,", "SUCCESS,"),  # a field without its backquote
        lambda bill: bill.split("总交易单数")[0],  # no summary
    ],
)
def test_a_malformed_bill_is_refused(change):
    with pytest.raises(ValueError):
        parse_trade_bill(change(DOC_BILL).encode())


# --- The adapter's calls, through a transport that answers as told ------------------------------


class _Answering(BaseAdapter):
    """Answers the requests it is sent with ``answers`` in turn (the last one answers every
    request after it): each a dict of ``status``, ``body`` and ``headers`` (a function of the
    body, or a dict), or an exception to raise. Keeps what it was sent."""

    def __init__(self, *answers):
        super().__init__()
        self.answers = answers
        self.sent = []

    def send(self, request, **kwargs):
        self.sent.append(request)
        answer = self.answers[min(len(self.sent), len(self.answers)) - 1]
        if isinstance(answer, BaseException):
            raise answer
        body, headers = answer.get("body", b"{}"), answer.get("headers")
        response = requests.Response()
        response.status_code = answer.get("status", 200)
        response.headers = CaseInsensitiveDict(
            (headers(body) if callable(headers) else headers) or {}
        )
        response.raw = io.BytesIO(body)
        response.request, response.url = request, request.url
        return response

    def close(self):
        pass


def _signed(platform_key, serial=PUBLIC_KEY_ID, **kwargs):
    return lambda body: protocol.signature_headers(platform_key, serial, body, **kwargs)


@pytest.fixture
def answering(merchant_key, platform_key):
    """``answering(*answers)`` or ``answering(**answer)`` (one answer for every call, or
    ``raises=`` an exception): an adapter whose calls ``_Answering`` answers, and that
    transport."""

    def make(*answers, raises=None, **answer):
        transport = _Answering(*(answers or [raises if raises is not None else answer]))
        http = requests.Session()
        http.mount("https://", transport)
        return _adapter(merchant_key, platform_key, BASE, http), transport

    return make


def test_a_prepay_is_a_signed_call_whose_signed_answer_counts(
    answering, merchant_key, platform_key
):
    body = b'{"prepay_id":"wx201410272009395522657a690389285100"}'
    adapter, transport = answering(body=body, headers=_signed(platform_key))
    expires = datetime(2026, 12, 4, 8, 15, tzinfo=CHINA_TZ)

    prepay_id = adapter.prepay("T20261204000001", "挂号费", 2500, "oUser1", expires)

    assert prepay_id == "wx201410272009395522657a690389285100"
    [sent] = transport.sent
    assert (sent.method, sent.url) == (
        "POST",
        BASE + "/v3/pay/transactions/jsapi",
    )
    assert json.loads(sent.body) == {
        "appid": APPID,
        "mchid": MCHID,
        "description": "挂号费",
        "out_trade_no": "T20261204000001",
        "time_expire": "2026-12-04T08:15:00+08:00",
        "notify_url": "https://hospital.example/webhooks/wechatpay",
        "amount": {"total": 2500, "currency": "CNY"},
        "payer": {"openid": "oUser1"},
    }
    # Signed over the path below the base and the very bytes sent, with our serial.
    credential = protocol.parse_authorization(sent.headers["Authorization"])
    assert (credential.mchid, credential.serial_no) == (MCHID, MERCHANT_SERIAL_NO)
    assert protocol.verify_authorization(
        credential, merchant_key.public_key(), "POST", "/v3/pay/transactions/jsapi", sent.body
    )
    assert sent.headers["User-Agent"] and sent.headers["Wechatpay-Serial"] == PUBLIC_KEY_ID
    assert sent.headers["Content-Type"] == "application/json"


def test_a_query_signs_its_query_string(answering, merchant_key, platform_key):
    adapter, transport = answering(status=404, body=b'{"code":"ORDER_NOT_EXIST","message":"x"}')

    assert adapter.query("T20261204000001") is None

    [sent] = transport.sent
    path = "/v3/pay/transactions/out-trade-no/T20261204000001?mchid=" + MCHID
    assert (sent.method, sent.url, sent.body) == (
        "GET",
        BASE + path,
        None,
    )
    credential = protocol.parse_authorization(sent.headers["Authorization"])
    assert protocol.verify_authorization(credential, merchant_key.public_key(), "GET", path, b"")


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (400, b'{"code":"PARAM_ERROR","message":"x"}', WeChatPayRejected, "PARAM_ERROR"),
        (401, b'{"code":"SIGN_ERROR","message":"x"}', WeChatPayRejected, "SIGN_ERROR"),
        (404, b'{"code":"ORDER_NOT_EXIST","message":"x"}', WeChatPayRejected, "ORDER_NOT_EXIST"),
        (500, b'{"code":"SYSTEM_ERROR","message":"x"}', WeChatPayUnavailable, "SYSTEM_ERROR"),
        (403, b'{"code":"BANK_ERROR","message":"x"}', WeChatPayUnavailable, "BANK_ERROR"),
        (429, b'{"code":"FREQUENCY_LIMITED"}', WeChatPayUnavailable, "FREQUENCY_LIMITED"),
        (502, b"<html>Bad Gateway</html>", WeChatPayUnavailable, "HTTP_502"),
        # Not WeChat's answers: a redirect, a proxy's, a misrouted gateway's. Not final either.
        (302, b"", WeChatPayUnavailable, "HTTP_302"),
        (407, b"<html>Proxy Authentication Required</html>", WeChatPayUnavailable, "HTTP_407"),
        (404, b"<html>404 Not Found</html>", WeChatPayUnavailable, "HTTP_404"),
    ],
)
def test_refusals_become_typed_errors(answering, status, body, error, code):
    adapter, _ = answering(status=status, body=body)

    with pytest.raises(error) as failed:
        adapter.close("T20261204000001")

    assert type(failed.value) is error
    assert (failed.value.status, failed.value.code) == (status, code)


@pytest.mark.parametrize("raised", [requests.Timeout(), requests.ConnectionError()])
def test_no_answer_is_unavailable(answering, raised):
    adapter, _ = answering(raises=raised)

    with pytest.raises(WeChatPayUnavailable) as failed:
        adapter.close("T20261204000001")

    assert (failed.value.status, failed.value.code) == (None, "NETWORK_ERROR")


def _another_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (lambda key: None, "missing"),
        (lambda key: _signed(_another_key()), "does not verify"),
        # Another serial would make an SDK fetch platform certificates: we fetch nothing.
        (lambda key: _signed(key, serial="5157F09EFDC096DE15EBE81A47057A72"), "not our public"),
        (lambda key: _signed(key, timestamp=int(time.time()) - 600), "more than 300 s"),
        (
            lambda key: lambda body: {
                **protocol.signature_headers(key, PUBLIC_KEY_ID, body),
                "Wechatpay-Signature-Type": "WECHATPAY2-SM2-WITH-SM3",
            },
            "unsupported signature type",
        ),
        (
            lambda key: lambda body: protocol.signature_headers(key, PUBLIC_KEY_ID, body + b" "),
            "does not verify",
        ),
    ],
)
def test_an_answer_that_does_not_verify_is_unavailable(answering, platform_key, headers, reason):
    adapter, transport = answering(body=b'{"prepay_id":"wx1"}', headers=headers(platform_key))
    expires = datetime(2026, 12, 4, 8, 15, tzinfo=CHINA_TZ)

    with pytest.raises(WeChatPayUnavailable) as failed:
        adapter.prepay("T20261204000001", "挂号费", 2500, "oUser1", expires)

    assert failed.value.code == "RESPONSE_UNVERIFIED"
    assert reason in failed.value.message
    assert len(transport.sent) == 1  # nothing else was asked for (no certificate download)


def test_a_signed_answer_that_is_not_an_object_is_malformed(answering, platform_key):
    adapter, _ = answering(body=b"[]", headers=_signed(platform_key))

    with pytest.raises(WeChatPayUnavailable) as failed:
        adapter.query_refund("R1")

    assert failed.value.code == "MALFORMED_RESPONSE"


def _dropped_connection():
    reset = ProtocolError("Connection aborted.", RemoteDisconnected("closed without response"))
    return requests.ConnectionError(reset)


def test_a_kept_connection_closed_by_the_gateway_is_retried_once(answering, platform_key):
    closed = {"status": 204, "body": b"", "headers": _signed(platform_key)}
    adapter, transport = answering(_dropped_connection(), closed)

    adapter.close("T20261204000001")  # the 204 came after one retry

    first, second = transport.sent
    nonces = [
        protocol.parse_authorization(r.headers["Authorization"]).nonce_str for r in transport.sent
    ]
    assert first.url == second.url and first.body == second.body and nonces[0] != nonces[1]


@pytest.mark.parametrize(
    ("failures", "sent"),
    [
        ([_dropped_connection(), _dropped_connection()], 2),  # once only
        ([requests.ReadTimeout()], 1),  # WeChat may still be working on it: no second wait
        ([requests.ConnectionError("connection refused")], 1),
    ],
)
def test_other_failures_are_not_retried(answering, failures, sent):
    adapter, transport = answering(*failures)

    with pytest.raises(WeChatPayUnavailable) as failed:
        adapter.close("T20261204000001")

    assert failed.value.code == "NETWORK_ERROR" and len(transport.sent) == sent


def _tradebill(platform_key, download_url, bill):
    body = json.dumps(
        {
            "download_url": download_url,
            "hash_type": "SHA1",
            "hash_value": hashlib.sha1(bill, usedforsecurity=False).hexdigest(),
        }
    ).encode()
    return {"body": body, "headers": _signed(platform_key)}


def test_a_bill_is_downloaded_signed_over_the_url_as_sent(answering, merchant_key, platform_key):
    bill = DOC_BILL.encode()
    # requests sends "%7e" as "~": the signature must cover what is sent.
    url = BASE + "/v3/billdownload/file?token=a%7eb"
    adapter, transport = answering(_tradebill(platform_key, url, bill), {"body": bill})

    trade_bill = adapter.trade_bill(date(2022, 3, 21))

    assert [row.out_trade_no for row in trade_bill.rows] == ["2021WERUN1647840687637"]
    download = transport.sent[1]
    assert download.path_url == "/base/v3/billdownload/file?token=a~b"
    credential = protocol.parse_authorization(download.headers["Authorization"])
    assert protocol.verify_authorization(
        credential, merchant_key.public_key(), "GET", download.path_url[len("/base") :], b""
    )


def test_a_bill_elsewhere_than_the_gateway_is_never_fetched(answering, platform_key):
    bill = DOC_BILL.encode()
    answer = _tradebill(platform_key, "https://elsewhere.example/base/v3/billdownload/file", bill)
    adapter, transport = answering(answer, {"body": bill})

    with pytest.raises(WeChatPayUnavailable) as failed:
        adapter.trade_bill(date(2022, 3, 21))

    assert failed.value.code == "MALFORMED_RESPONSE" and len(transport.sent) == 1
