"""The production WeChat Pay adapter against the WeChat Pay APIv3 stand-in, over real HTTP."""

import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from unittest.mock import patch

import pytest
import requests

from app.domain.clock import now as china_now
from app.integrations import wechatpay
from app.integrations.wechatpay import (
    NotificationInvalid,
    WeChatPay,
    WeChatPayRejected,
    WeChatPayUnavailable,
)
from app.protocols import wechatpay as protocol
from app.sandbox import wechatpay as sandbox_wechatpay
from config import public_pem, rsa_private_pem
from tests.e2e.wechat_helpers import new_openid
from tests.e2e.wechatpay_helpers import (
    NotifyReceiver,
    WeChatPayer,
    new_out_refund_no,
    new_out_trade_no,
)

DESCRIPTION = "预约挂号-心内科 王医生"


@pytest.fixture
def ctx(served):
    with served.app.app_context():
        yield


@pytest.fixture(scope="module")
def payer(served):
    return WeChatPayer(served.url)


@pytest.fixture
def receiver():
    """Our notify endpoint, standing in until /webhooks/wechatpay exists."""
    with NotifyReceiver() as endpoint:
        yield endpoint


def adapter_with(served, **settings):
    """An adapter on the served app's config with ``settings`` changed; the app's config stays."""
    return WeChatPay.from_config({**served.app.config, **settings})


def prepaid(receiver=None, amount_fen=2500, openid=None, minutes=15):
    """A new prepaid order: (out_trade_no, openid, prepay_id)."""
    out_trade_no, openid = new_out_trade_no(), openid or new_openid()
    prepay_id = wechatpay.prepay(
        out_trade_no,
        DESCRIPTION,
        amount_fen,
        openid,
        china_now() + timedelta(minutes=minutes),
        notify_url=receiver.url if receiver else None,
    )
    return out_trade_no, openid, prepay_id


def paid(payer, receiver, amount_fen=2500):
    """A new paid order (its notification already received): (out_trade_no, openid)."""
    out_trade_no, openid, _ = prepaid(receiver, amount_fen)
    assert payer.pay(out_trade_no)["delivered"]
    return out_trade_no, openid


# --- Prepay and wx.requestPayment ----------------------------------------------------------------


def test_prepay_gives_a_prepay_id_and_the_same_one_again(ctx):
    out_trade_no, openid = new_out_trade_no(), new_openid()
    expires = china_now() + timedelta(minutes=15)

    first = wechatpay.prepay(out_trade_no, DESCRIPTION, 2500, openid, expires)
    again = wechatpay.prepay(out_trade_no, DESCRIPTION, 2500, openid, expires)

    assert first.startswith("wx")
    assert again == first


def test_prepay_again_with_other_parameters_is_refused(ctx):
    out_trade_no, openid = new_out_trade_no(), new_openid()
    expires = china_now() + timedelta(minutes=15)
    wechatpay.prepay(out_trade_no, DESCRIPTION, 2500, openid, expires)

    with pytest.raises(WeChatPayRejected) as refused:
        wechatpay.prepay(out_trade_no, DESCRIPTION, 2600, openid, expires)

    assert (refused.value.status, refused.value.code) == (400, "INVALID_REQUEST")


def test_prepay_of_a_paid_order_is_refused(ctx, payer, receiver):
    out_trade_no, openid, _ = prepaid(receiver)
    payer.pay(out_trade_no)

    with pytest.raises(WeChatPayRejected) as refused:
        wechatpay.prepay(
            out_trade_no, DESCRIPTION, 2500, openid, china_now() + timedelta(minutes=5)
        )

    assert refused.value.code == "ORDERPAID"


def test_request_payment_params_are_signed_with_the_merchant_key(ctx, served):
    _, _, prepay_id = prepaid()

    params = wechatpay.request_payment_params(prepay_id)

    assert set(params) == {"timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["package"] == f"prepay_id={prepay_id}"
    assert params["signType"] == "RSA"
    assert abs(int(params["timeStamp"]) - time.time()) < 60
    config = served.app.config
    message = (
        f"{config['WECHAT_APPID']}\n{params['timeStamp']}\n{params['nonceStr']}\n"
        f"{params['package']}\n"
    ).encode()
    merchant_key = protocol.public_key_of(config["WECHATPAY_MERCHANT_PRIVATE_KEY"])
    assert protocol.rsa_verify(merchant_key, message, params["paySign"])


# --- Paying, the notification, query and close ---------------------------------------------------


def test_paying_sends_a_notification_that_verifies_and_decrypts(ctx, served, payer, receiver):
    out_trade_no, openid, _ = prepaid(receiver, amount_fen=3300)

    result = payer.pay(out_trade_no)

    assert (result["delivered"], result["status_code"]) == (True, 204)
    [received] = receiver.received
    notification = wechatpay.parse_notification(received.headers, received.body)
    assert notification.event_type == "TRANSACTION.SUCCESS"
    assert notification.original_type == "transaction"
    transaction = notification.transaction
    assert transaction.out_trade_no == out_trade_no
    assert transaction.trade_state == "SUCCESS"
    assert transaction.transaction_id == result["transaction_id"]
    assert (transaction.amount_fen, transaction.payer_total_fen) == (3300, 3300)
    assert transaction.openid == openid
    assert transaction.appid == served.app.config["WECHAT_APPID"]
    assert transaction.mchid == served.app.config["WECHATPAY_MCHID"]
    assert abs((china_now() - transaction.success_time).total_seconds()) < 60
    assert received.headers["Wechatpay-Serial"] == served.app.config["WECHATPAY_PUBLIC_KEY_ID"]


def test_query_before_and_after_paying(ctx, payer, receiver):
    out_trade_no, openid, _ = prepaid(receiver, amount_fen=1200)

    before = wechatpay.query(out_trade_no)
    payer.pay(out_trade_no)
    after = wechatpay.query(out_trade_no)

    assert before.trade_state == "NOTPAY"
    assert (before.transaction_id, before.success_time, before.amount_fen) == (None, None, 1200)
    assert after.trade_state == "SUCCESS"
    assert after.transaction_id and after.success_time.tzinfo is not None
    assert (after.amount_fen, after.payer_total_fen, after.openid) == (1200, 1200, openid)
    assert after.currency == "CNY"


def test_an_unknown_order_queries_as_none(ctx):
    assert wechatpay.query(new_out_trade_no()) is None


def test_a_lost_notification_is_found_by_query_and_can_be_redelivered(ctx, payer, receiver):
    out_trade_no, _, _ = prepaid(receiver)

    result = payer.pay(out_trade_no, notify=False)

    assert (result["delivered"], result["notified"]) == (False, False)
    assert receiver.received == []
    assert wechatpay.query(out_trade_no).trade_state == "SUCCESS"
    deliveries = payer.redeliver(times=2, out_trade_no=out_trade_no)
    assert [item["status_code"] for item in deliveries] == [204, 204]
    first, second = (wechatpay.parse_notification(r.headers, r.body) for r in receiver.received)
    assert first.id == second.id  # a redelivery is the same notification
    assert first.transaction.out_trade_no == out_trade_no


def test_a_failed_delivery_is_recorded(ctx, payer):
    with NotifyReceiver(status=500) as failing:
        out_trade_no, _, _ = prepaid(failing)

        result = payer.pay(out_trade_no)

    assert (result["delivered"], result["status_code"]) == (False, 500)
    [delivery] = payer.inspect(out_trade_no)["deliveries"]
    assert (delivery["delivered"], delivery["status_code"]) == (False, 500)


def test_notifications_go_to_loopback_only(ctx, payer):
    out_trade_no = new_out_trade_no()
    wechatpay.prepay(
        out_trade_no,
        DESCRIPTION,
        100,
        new_openid(),
        china_now() + timedelta(minutes=5),
        notify_url="https://example.com/webhooks/wechatpay",
    )

    result = payer.pay(out_trade_no)

    assert (result["delivered"], result["status_code"]) == (False, None)
    assert "本机" in payer.inspect(out_trade_no)["deliveries"][0]["error"]


def test_close_an_unpaid_order(ctx, payer, receiver):
    out_trade_no, openid, _ = prepaid(receiver)

    wechatpay.close(out_trade_no)
    wechatpay.close(out_trade_no)  # closing twice is fine

    assert wechatpay.query(out_trade_no).trade_state == "CLOSED"
    payer.pay(out_trade_no, expect=409)
    with pytest.raises(WeChatPayRejected) as refused:
        wechatpay.prepay(
            out_trade_no, DESCRIPTION, 2500, openid, china_now() + timedelta(minutes=5)
        )
    assert refused.value.code == "ORDER_CLOSED"


def test_closing_a_paid_order_is_refused(ctx, payer, receiver):
    out_trade_no, _ = paid(payer, receiver)

    with pytest.raises(WeChatPayRejected) as refused:
        wechatpay.close(out_trade_no)

    assert refused.value.code == "ORDERPAID"


def test_an_order_past_its_time_expire_cannot_be_paid(ctx, payer, monkeypatch):
    out_trade_no = new_out_trade_no()
    wechatpay.prepay(
        out_trade_no, DESCRIPTION, 100, new_openid(), china_now() + timedelta(minutes=2)
    )
    # The stand-in's clock (it serves in this process), three minutes on.
    later = china_now() + timedelta(minutes=3)
    monkeypatch.setattr(sandbox_wechatpay, "_now", lambda: later.replace(microsecond=0))

    payer.pay(out_trade_no, expect=409)


# --- Refunds -------------------------------------------------------------------------------------


def test_partial_refunds_up_to_the_amount_paid(ctx, payer, receiver):
    out_trade_no, _ = paid(payer, receiver, amount_fen=10000)
    first_no = new_out_refund_no()

    first = wechatpay.refund(out_trade_no, first_no, 3000, 10000, "患者退号")
    again = wechatpay.refund(out_trade_no, first_no, 3000, 10000, "患者退号")
    with pytest.raises(WeChatPayRejected) as too_much:
        wechatpay.refund(out_trade_no, new_out_refund_no(), 7001, 10000, "患者退号")
    rest = wechatpay.refund(out_trade_no, new_out_refund_no(), 7000, 10000, "患者退号")

    assert first.status == "PROCESSING"
    assert (first.refund_fen, first.total_fen, first.out_trade_no) == (3000, 10000, out_trade_no)
    assert first.refund_id and first.create_time.tzinfo is not None
    assert again.refund_id == first.refund_id
    # WeChat answers an over-refund with INVALID_REQUEST; NOT_ENOUGH means the merchant's balance.
    assert (too_much.value.status, too_much.value.code) == (400, "INVALID_REQUEST")
    assert rest.refund_fen == 7000
    assert wechatpay.query(out_trade_no).trade_state == "REFUND"
    assert wechatpay.query_refund(first_no) == first


def test_a_refund_number_reused_with_other_amounts_is_refused(ctx, payer, receiver):
    out_trade_no, _ = paid(payer, receiver, amount_fen=5000)
    out_refund_no = new_out_refund_no()
    wechatpay.refund(out_trade_no, out_refund_no, 1000, 5000)

    with pytest.raises(WeChatPayRejected) as refused:
        wechatpay.refund(out_trade_no, out_refund_no, 2000, 5000)

    assert refused.value.code == "INVALID_REQUEST"


def test_refunding_an_unpaid_order_is_refused(ctx):
    out_trade_no, _, _ = prepaid()

    with pytest.raises(WeChatPayRejected) as refused:
        wechatpay.refund(out_trade_no, new_out_refund_no(), 100, 2500)

    assert refused.value.status == 400


def test_a_settled_refund_is_notified_and_queried(ctx, payer, receiver):
    out_trade_no, _ = paid(payer, receiver, amount_fen=8000)
    out_refund_no = new_out_refund_no()
    wechatpay.refund(out_trade_no, out_refund_no, 8000, 8000, "医生停诊", notify_url=receiver.url)

    result = payer.settle_refund(out_refund_no, "SUCCESS")

    assert (result["delivered"], result["status_code"]) == (True, 204)
    notification = wechatpay.parse_notification(
        receiver.received[-1].headers, receiver.received[-1].body
    )
    assert notification.event_type == "REFUND.SUCCESS"
    assert notification.original_type == "refund"
    refund = notification.refund
    assert (refund.out_refund_no, refund.out_trade_no, refund.status) == (
        out_refund_no,
        out_trade_no,
        "SUCCESS",
    )
    assert (refund.refund_fen, refund.total_fen, refund.payer_refund_fen) == (8000, 8000, 8000)
    assert refund.success_time is not None
    queried = wechatpay.query_refund(out_refund_no)
    assert (queried.status, queried.refund_id) == ("SUCCESS", refund.refund_id)


def test_a_closed_refund_gives_its_amount_back(ctx, payer, receiver):
    out_trade_no, _ = paid(payer, receiver, amount_fen=4000)
    closed_no = new_out_refund_no()
    wechatpay.refund(out_trade_no, closed_no, 4000, 4000, notify_url=receiver.url)

    payer.settle_refund(closed_no, "CLOSED")
    retried = wechatpay.refund(out_trade_no, new_out_refund_no(), 4000, 4000)

    closed = wechatpay.parse_notification(receiver.received[-1].headers, receiver.received[-1].body)
    assert (closed.event_type, closed.refund.status) == ("REFUND.CLOSED", "CLOSED")
    assert retried.status == "PROCESSING"


def test_concurrent_refunds_never_exceed_the_amount_paid(ctx, served, payer, receiver):
    out_trade_no, _ = paid(payer, receiver, amount_fen=10000)
    outcomes = []

    def apply():
        with served.app.app_context():
            try:
                outcomes.append(wechatpay.refund(out_trade_no, new_out_refund_no(), 3000, 10000))
            except WeChatPayRejected as exc:
                outcomes.append(exc.code)

    threads = [threading.Thread(target=apply) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(1 for outcome in outcomes if not isinstance(outcome, str)) == 3
    assert outcomes.count("INVALID_REQUEST") == 3


def test_an_unknown_refund_is_refused(ctx):
    with pytest.raises(WeChatPayRejected) as refused:
        wechatpay.query_refund(new_out_refund_no())

    assert (refused.value.status, refused.value.code) == (404, "RESOURCE_NOT_EXISTS")


# --- The trade bill ------------------------------------------------------------------------------


def test_the_bill_of_the_day_lists_payments_and_refunds(ctx, served, payer, receiver):
    out_trade_no, openid = paid(payer, receiver, amount_fen=1234)
    refunded_no, _ = paid(payer, receiver, amount_fen=5000)
    out_refund_no = new_out_refund_no()
    refund = wechatpay.refund(refunded_no, out_refund_no, 2000, 5000)

    bill = wechatpay.trade_bill(china_now().date())

    payment = next(row for row in bill.rows if row.out_trade_no == out_trade_no)
    assert (payment.trade_status, payment.amount_fen, payment.refund_fen) == ("SUCCESS", 1234, 0)
    assert payment.openid == openid
    assert payment.transaction_id == wechatpay.query(out_trade_no).transaction_id
    assert payment.description == DESCRIPTION
    assert payment.refund_id is None and payment.trade_time.tzinfo is not None
    assert payment.appid == served.app.config["WECHAT_APPID"]
    [refund_row] = [row for row in bill.rows if row.out_refund_no == out_refund_no]
    assert refund_row.trade_status == "REFUND"
    assert (refund_row.refund_fen, refund_row.refund_id) == (2000, refund.refund_id)
    assert refund_row.out_trade_no == refunded_no
    assert bill.summary.count == len(bill.rows)
    assert bill.summary.amount_fen == sum(row.amount_fen for row in bill.rows)
    assert bill.summary.refund_fen == sum(row.refund_fen for row in bill.rows)
    assert bill.summary.fee_fen == sum(row.fee_fen for row in bill.rows)


def test_a_tampered_bill_download_is_detected(ctx, payer, receiver):
    paid(payer, receiver)
    payer.tamper_next_bill()

    with pytest.raises(WeChatPayUnavailable) as corrupted:
        wechatpay.trade_bill(china_now().date())

    assert corrupted.value.code == "BILL_HASH_MISMATCH"
    assert wechatpay.trade_bill(china_now().date()).rows  # the next download is whole again


def test_a_day_without_trades_has_an_empty_bill(ctx):
    day = china_now().date() - timedelta(days=30)

    bill = wechatpay.trade_bill(day)

    assert (bill.bill_date, bill.rows, bill.summary) == (day, [], None)


# --- Notifications we must not trust ------------------------------------------------------------


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("signature", "does not verify"),
        ("timestamp", "from our clock"),
        ("serial", "not our public key id"),
        ("resource", "does not decrypt"),
    ],
)
def test_a_broken_notification_is_invalid(ctx, payer, receiver, tamper, reason):
    out_trade_no, _ = paid(payer, receiver)

    result = payer.notify_raw(out_trade_no, tamper)

    assert result["delivered"]
    broken = receiver.received[-1]
    with pytest.raises(NotificationInvalid) as invalid:
        wechatpay.parse_notification(broken.headers, broken.body)
    assert reason in invalid.value.reason


def test_a_genuine_notification_with_another_amount_parses_for_the_business_check(
    ctx, payer, receiver
):
    out_trade_no, _ = paid(payer, receiver, amount_fen=2500)

    payer.notify_raw(out_trade_no, "amount")

    notification = wechatpay.parse_notification(
        receiver.received[-1].headers, receiver.received[-1].body
    )
    assert notification.transaction.amount_fen == 2501  # our webhook must compare with the order


def test_a_notification_is_stale_after_five_minutes(ctx, payer, receiver):
    out_trade_no, _ = paid(payer, receiver)
    [received] = receiver.received

    in_time = wechatpay.parse_notification(
        received.headers, received.body, now=china_now() + timedelta(minutes=4)
    )
    with pytest.raises(NotificationInvalid):
        wechatpay.parse_notification(
            received.headers, received.body, now=china_now() + timedelta(minutes=6)
        )

    assert in_time.transaction.out_trade_no == out_trade_no


def test_a_body_changed_after_signing_is_invalid(ctx, payer, receiver):
    paid(payer, receiver)
    [received] = receiver.received

    with pytest.raises(NotificationInvalid) as invalid:
        wechatpay.parse_notification(received.headers, received.body.replace(b"}", b" }", 1))

    assert "does not verify" in invalid.value.reason


# --- Refusals and outages ------------------------------------------------------------------------


def test_a_request_signed_with_another_key_is_refused(ctx, served):
    other = adapter_with(served, WECHATPAY_MERCHANT_PRIVATE_KEY=rsa_private_pem())

    with pytest.raises(WeChatPayRejected) as refused:
        other.query(new_out_trade_no())

    assert (refused.value.status, refused.value.code) == (401, "SIGN_ERROR")


def test_a_request_with_another_serial_no_is_refused(ctx, served):
    other = adapter_with(served, WECHATPAY_MERCHANT_SERIAL_NO="0" * 40)

    with pytest.raises(WeChatPayRejected) as refused:
        other.query(new_out_trade_no())

    assert refused.value.code == "SIGN_ERROR"


def test_an_answer_signed_with_another_key_is_unverified(ctx, served):
    other = adapter_with(served, WECHATPAY_PUBLIC_KEY=public_pem(rsa_private_pem()))
    out_trade_no, _, _ = prepaid()

    with pytest.raises(WeChatPayUnavailable) as unverified:
        other.query(out_trade_no)

    assert unverified.value.code == "RESPONSE_UNVERIFIED"


def test_an_unreachable_gateway_is_unavailable(ctx, served):
    other = adapter_with(served, WECHATPAY_API_BASE="http://127.0.0.1:1/sandbox/wechatpay")

    with pytest.raises(WeChatPayUnavailable) as unavailable:
        other.query(new_out_trade_no())

    assert (unavailable.value.status, unavailable.value.code) == (None, "NETWORK_ERROR")


class _KeptAliveProxy(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive in front of ``upstream`` (the test server closes every
    connection), counting the connections it was given; asked for an absolute URL, it forwards
    there, as a client's HTTP proxy does, and notes the URL."""

    protocol_version = "HTTP/1.1"
    upstream = ""
    connections = 0
    proxied: ClassVar[list[str]] = []
    _HOP = frozenset(
        {
            "connection",
            "proxy-connection",
            "content-length",
            "transfer-encoding",
            "content-encoding",
        }
    )

    def setup(self):
        type(self).connections += 1
        super().setup()

    def finish(self):
        super().finish()
        type(self).finished.set()  # the client closed its kept connection

    def _forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in self._HOP | {"host"}}
        if self.path.startswith("http://"):
            self.proxied.append(self.path)
        with requests.Session() as direct:
            direct.trust_env = False  # never through the proxy a test sets: that is this one
            answer = direct.request(
                self.command,
                self.path if self.path.startswith("http://") else self.upstream + self.path,
                data=self.rfile.read(length) if length else None,
                headers=headers,
                timeout=10,
            )
        self.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in self._HOP | {"date", "server"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = _forward

    def log_message(self, *args):
        pass


@pytest.fixture
def kept_alive_proxy(served):
    _KeptAliveProxy.upstream, _KeptAliveProxy.connections = served.url, 0
    _KeptAliveProxy.proxied, _KeptAliveProxy.finished = [], threading.Event()
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _KeptAliveProxy)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{proxy.server_port}"
    proxy.shutdown()
    thread.join(timeout=5)


def test_calls_share_a_kept_connection(ctx, served, receiver, kept_alive_proxy):
    base = kept_alive_proxy + "/sandbox/wechatpay"
    other = adapter_with(served, WECHATPAY_API_BASE=base)
    out_trade_no, expires = new_out_trade_no(), china_now() + timedelta(minutes=15)

    other.prepay(out_trade_no, DESCRIPTION, 2500, new_openid(), expires, receiver.url)
    other.query(out_trade_no)
    other.close(out_trade_no)
    closed = other.query(out_trade_no)

    assert closed.trade_state == wechatpay.CLOSED
    assert _KeptAliveProxy.connections == 1


def test_new_settings_close_the_replaced_adapters_connections(ctx, served, kept_alive_proxy):
    """The app's adapter is rebuilt when its settings change; the one it replaces hangs up its
    kept connections then, even while something still holds it."""
    config = served.app.config
    with patch.dict(config, {"WECHATPAY_API_BASE": kept_alive_proxy + "/sandbox/wechatpay"}):
        replaced = wechatpay.client()
        assert replaced.query(new_out_trade_no()) is None
        assert not _KeptAliveProxy.finished.is_set()

        with patch.dict(config, {"PUBLIC_BASE_URL": config["PUBLIC_BASE_URL"] + "/"}):
            assert wechatpay.client() is not replaced

            assert _KeptAliveProxy.finished.wait(timeout=5)


def test_the_environments_proxy_is_read_when_the_adapter_is_built(
    ctx, served, kept_alive_proxy, monkeypatch
):
    """An egress proxy set in the environment (HTTPS_PROXY in production; HTTP_PROXY here, the
    stand-in speaking plain HTTP) carries the calls of an adapter built while it was set, and
    only of those."""
    for name in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", kept_alive_proxy)
    proxied = adapter_with(served)
    monkeypatch.delenv("HTTP_PROXY")
    direct = adapter_with(served)
    monkeypatch.setenv("HTTP_PROXY", kept_alive_proxy)  # too late for the direct one
    through, around = new_out_trade_no(), new_out_trade_no()

    assert proxied.query(through) is None
    assert direct.query(around) is None

    base = served.app.config["WECHATPAY_API_BASE"]
    mchid = served.app.config["WECHATPAY_MCHID"]
    assert _KeptAliveProxy.proxied == [
        f"{base}/v3/pay/transactions/out-trade-no/{through}?mchid={mchid}"
    ]


# --- The stand-in's wire behaviour ---------------------------------------------------------------


def _signed_get(served, path, *, timestamp=None):
    config = served.app.config
    authorization = protocol.build_authorization(
        protocol.load_private_key(config["WECHATPAY_MERCHANT_PRIVATE_KEY"]),
        config["WECHATPAY_MCHID"],
        config["WECHATPAY_MERCHANT_SERIAL_NO"],
        "GET",
        path,
        timestamp=timestamp,
    )
    return requests.get(
        served.url + "/sandbox/wechatpay" + path,
        headers={"Authorization": authorization, "Accept": "application/json"},
        timeout=10,
    )


def _assert_signed_by_wechatpay(served, response):
    config = served.app.config
    protocol.verify_signature_headers(
        response.headers,
        response.content,
        protocol.load_public_key(config["WECHATPAY_PUBLIC_KEY"]),
        config["WECHATPAY_PUBLIC_KEY_ID"],
    )
    assert response.headers["Request-ID"]


def test_the_stand_in_signs_answers_and_refusals(served):
    mchid = served.app.config["WECHATPAY_MCHID"]
    path = f"/v3/pay/transactions/out-trade-no/{new_out_trade_no()}?mchid={mchid}"

    missing = _signed_get(served, path)
    stale = _signed_get(served, path, timestamp=int(time.time()) - 301)
    unsigned = requests.get(served.url + "/sandbox/wechatpay" + path, timeout=10)

    assert (missing.status_code, missing.json()["code"]) == (404, "ORDER_NOT_EXIST")
    assert (stale.status_code, stale.json()["code"]) == (401, "SIGN_ERROR")
    assert (unsigned.status_code, unsigned.json()["code"]) == (401, "SIGN_ERROR")
    for response in (missing, stale, unsigned):
        _assert_signed_by_wechatpay(served, response)


def test_the_stand_in_checks_the_signed_path_and_query(served):
    mchid = served.app.config["WECHATPAY_MCHID"]
    out_trade_no = new_out_trade_no()
    config = served.app.config
    authorization = protocol.build_authorization(
        protocol.load_private_key(config["WECHATPAY_MERCHANT_PRIVATE_KEY"]),
        mchid,
        config["WECHATPAY_MERCHANT_SERIAL_NO"],
        "GET",
        f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={mchid}",
    )

    other_query = requests.get(
        f"{served.url}/sandbox/wechatpay/v3/pay/transactions/out-trade-no/{out_trade_no}"
        f"?mchid={mchid}&x=1",
        headers={"Authorization": authorization},
        timeout=10,
    )

    assert (other_query.status_code, other_query.json()["code"]) == (401, "SIGN_ERROR")


def test_paying_twice_or_an_unknown_order_is_a_control_error(ctx, payer, receiver):
    out_trade_no, _ = paid(payer, receiver)

    payer.pay(out_trade_no, expect=409)
    payer.pay(new_out_trade_no(), expect=404)
