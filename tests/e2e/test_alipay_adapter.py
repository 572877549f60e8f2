"""The production Alipay adapter against the Alipay stand-in, over real HTTP."""

import base64
import io
import json
import socket
import threading
import time
import zipfile
from datetime import date, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from alipay import AliPay
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from werkzeug.datastructures import MultiDict

from app.domain import clock
from app.domain.clock import CHINA_TZ
from app.integrations import alipay
from app.integrations.alipay import (
    Alipay,
    AlipayError,
    AlipayRejected,
    AlipayUnavailable,
    NotificationInvalid,
    TradeStatus,
)
from config import public_pem, rsa_private_pem
from tests.e2e.alipay_helpers import AlipayPayer, NotifyReceiver, new_out_trade_no

SUBJECT = "挂号费-心内科"


@pytest.fixture
def ctx(served):
    with served.app.app_context():
        yield


@pytest.fixture
def payer(served):
    return AlipayPayer(served.url)


@pytest.fixture
def receiver():
    with NotifyReceiver() as webhook:
        yield webhook


@pytest.fixture
def adapter(ctx):
    return alipay.client()


def config_with(served, **settings):
    """The served app's config with ``settings`` changed; the app's own config stays."""
    return {**served.app.config, **settings}


def plain_sdk(served):
    """python-alipay-sdk as it comes, on the served app's keys and the stand-in's gateway."""
    config = served.app.config
    sdk = AliPay(
        appid=config["ALIPAY_APPID"],
        app_private_key_string=config["ALIPAY_APP_PRIVATE_KEY"],
        alipay_public_key_string=config["ALIPAY_PUBLIC_KEY"],
    )
    sdk._gateway = config["ALIPAY_GATEWAY"]
    return sdk


def beijing_timestamp():
    return clock.now().strftime("%Y-%m-%d %H:%M:%S")


def verifies(params, public_key_pem, exclude):
    """Alipay's RSA2 check, done independently of the SDK: sorted k=v without ``exclude``."""
    content = "&".join(
        f"{name}={value}"
        for name, value in sorted(params.items())
        if name not in exclude and value != ""
    )
    key = serialization.load_pem_public_key(public_key_pem.encode())
    try:
        key.verify(
            base64.b64decode(params["sign"]), content.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except Exception:
        return False
    return True


def open_trade(adapter, payer, receiver, amount_fen=5000, minutes=15, **kwargs):
    """A trade the payer has opened in the cashier; its out_trade_no and the cashier page."""
    out_trade_no = new_out_trade_no()
    url = adapter.wap_pay_url(
        out_trade_no,
        SUBJECT,
        amount_fen,
        clock.now() + timedelta(minutes=minutes),
        notify_url=receiver.url,
        **kwargs,
    )
    page = payer.open(url)
    assert page.status_code == 200
    return out_trade_no, page


def paid_trade(adapter, payer, receiver, amount_fen=5000):
    out_trade_no, _ = open_trade(adapter, payer, receiver, amount_fen)
    assert payer.pay(out_trade_no)["delivered"] is True
    return out_trade_no


# --- The cashier link ----------------------------------------------------------------------------


def test_the_pay_url_is_a_signed_link_on_the_gateway(served, adapter, receiver):
    out_trade_no = new_out_trade_no()
    expires_at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=CHINA_TZ)

    url = adapter.wap_pay_url(
        out_trade_no,
        SUBJECT,
        1230,
        expires_at,
        "http://127.0.0.1/h5/orders/1",
        notify_url=receiver.url,
    )

    assert url.startswith(served.url + "/sandbox/alipay/gateway.do?")
    params = dict(parse_qsl(urlsplit(url).query))
    assert params["app_id"] == served.app.config["ALIPAY_APPID"]
    assert (params["method"], params["sign_type"], params["charset"], params["version"]) == (
        "alipay.trade.wap.pay",
        "RSA2",
        "utf-8",
        "1.0",
    )
    assert params["notify_url"] == receiver.url
    assert params["return_url"] == "http://127.0.0.1/h5/orders/1"
    stamped = datetime.strptime(params["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA_TZ)
    assert abs(stamped - clock.now()) < timedelta(minutes=1)
    biz = json.loads(params["biz_content"])
    assert biz == {
        "subject": SUBJECT,
        "out_trade_no": out_trade_no,
        "total_amount": "12.30",
        "product_code": "QUICK_WAP_WAY",
        "time_expire": "2030-01-02 03:04:05",
        "quit_url": "http://127.0.0.1/h5/orders/1",
    }
    # Request signatures cover sign_type too; only sign is left out.
    app_public = public_pem(served.app.config["ALIPAY_APP_PRIVATE_KEY"])
    assert verifies(params, app_public, exclude={"sign"})


def test_the_default_notify_url_is_our_webhook(served, adapter):
    url = adapter.wap_pay_url(new_out_trade_no(), SUBJECT, 100, clock.now() + timedelta(hours=1))

    notify_url = dict(parse_qsl(urlsplit(url).query))["notify_url"]
    assert notify_url == served.app.config["PUBLIC_BASE_URL"] + "/webhooks/alipay"


def test_the_cashier_shows_the_order_in_yuan(adapter, payer, receiver):
    out_trade_no, page = open_trade(adapter, payer, receiver, amount_fen=1230)

    assert "¥12.30" in page.text
    assert SUBJECT in page.text
    assert "确认付款" in page.text
    trade = payer.trade(out_trade_no)
    assert (trade["trade_status"], trade["total_amount"]) == ("WAIT_BUYER_PAY", "12.30")
    assert trade["notify_url"] == receiver.url


def test_a_subject_loses_the_characters_alipay_forbids(adapter):
    url = adapter.wap_pay_url(
        new_out_trade_no(), "耳鼻喉/头颈外科 A&B=1", 100, clock.now() + timedelta(hours=1)
    )

    assert json.loads(dict(parse_qsl(urlsplit(url).query))["biz_content"])["subject"] == (
        "耳鼻喉 头颈外科 A B 1"
    )


def test_a_link_changed_after_signing_shows_alipays_error_page(adapter, payer, receiver):
    out_trade_no = new_out_trade_no()
    url = adapter.wap_pay_url(
        out_trade_no, SUBJECT, 5000, clock.now() + timedelta(minutes=15), notify_url=receiver.url
    )

    page = payer.open(url.replace("50.00", "0.01"))

    assert page.status_code == 200  # Alipay shows its refusals as a page
    assert "错误代码 invalid-signature" in page.text
    assert payer.trade(out_trade_no) is None


def test_a_link_past_its_expiry_cannot_be_paid(adapter, payer, receiver):
    out_trade_no = new_out_trade_no()
    url = adapter.wap_pay_url(
        out_trade_no, SUBJECT, 5000, clock.now() - timedelta(minutes=1), notify_url=receiver.url
    )

    page = payer.open(url)

    assert "TRADE_HAS_CLOSE" in page.text
    assert adapter.query(out_trade_no).trade_status == TradeStatus.TRADE_CLOSED
    refused = requests.post(payer.base + "/pay", json={"out_trade_no": out_trade_no}, timeout=10)
    assert refused.status_code == 409
    assert receiver.forms == []


@pytest.mark.parametrize(
    ("out_trade_no", "amount_fen"),
    [
        ("T-1", 100),  # Alipay: letters, digits and underscores
        ("T" * 65, 100),
        ("T1", 0),
        ("T1", -1),
        ("T1", 12.3),
    ],
)
def test_a_pay_url_is_not_made_from_bad_values(adapter, out_trade_no, amount_fen):
    with pytest.raises(ValueError):
        adapter.wap_pay_url(out_trade_no, SUBJECT, amount_fen, clock.now() + timedelta(minutes=15))


def test_a_naive_expiry_is_refused(adapter):
    with pytest.raises(ValueError):
        adapter.wap_pay_url(new_out_trade_no(), SUBJECT, 100, datetime.now() + timedelta(hours=1))


# --- Paying, and the notify ----------------------------------------------------------------------


@pytest.mark.parametrize("amount_fen", [1, 1230, 5000, 1999999])
def test_paying_sends_a_notify_that_verifies(served, adapter, payer, receiver, amount_fen):
    out_trade_no, _ = open_trade(adapter, payer, receiver, amount_fen)

    paid = payer.pay(out_trade_no)

    assert paid["delivered"] is True
    assert paid["response_text"] == "success"
    [form] = receiver.forms
    assert form["total_amount"] == f"{amount_fen // 100}.{amount_fen % 100:02d}"
    notification = adapter.verify_notification(form)
    assert notification.out_trade_no == out_trade_no
    assert notification.trade_no == paid["trade_no"]
    assert notification.total_fen == amount_fen
    assert notification.trade_status == TradeStatus.TRADE_SUCCESS
    assert notification.app_id == served.app.config["ALIPAY_APPID"]
    assert notification.notify_id
    assert notification.gmt_payment.utcoffset() == timedelta(hours=8)
    assert abs(notification.gmt_payment - clock.now()) < timedelta(minutes=1)
    assert notification.refunded_fen is None


def test_the_notify_has_alipays_fields_signed_without_sign_type(served, adapter, payer, receiver):
    out_trade_no = paid_trade(adapter, payer, receiver)

    [form] = receiver.forms
    assert form["notify_type"] == "trade_status_sync"
    assert form["sign_type"] == "RSA2"
    for name in ("notify_time", "notify_id", "seller_id", "receipt_amount", "buyer_pay_amount"):
        assert form[name]
    assert form["out_trade_no"] == out_trade_no
    # Notify signatures leave out sign and sign_type.
    assert verifies(form.to_dict(), served.app.config["ALIPAY_PUBLIC_KEY"], {"sign", "sign_type"})


def test_query_follows_the_trade(adapter, payer, receiver):
    out_trade_no, _ = open_trade(adapter, payer, receiver, amount_fen=1230)

    waiting = adapter.query(out_trade_no)
    payer.pay(out_trade_no)
    paid = adapter.query(out_trade_no)

    assert waiting.trade_status == TradeStatus.WAIT_BUYER_PAY
    assert waiting.paid_at is None
    assert paid.trade_status == TradeStatus.TRADE_SUCCESS
    assert (paid.out_trade_no, paid.amount_fen) == (out_trade_no, 1230)
    assert paid.trade_no == waiting.trade_no
    assert paid.paid_at.utcoffset() == timedelta(hours=8)
    assert abs(paid.paid_at - clock.now()) < timedelta(minutes=1)
    assert "*" in paid.buyer_logon_id  # Alipay masks the payer's account


def test_a_trade_alipay_never_saw_queries_as_none(adapter):
    assert adapter.query(new_out_trade_no()) is None


def test_a_failed_delivery_is_recorded_and_can_be_redelivered(adapter, payer, receiver):
    receiver.reply = "fail"
    out_trade_no, _ = open_trade(adapter, payer, receiver)

    first = payer.pay(out_trade_no)
    receiver.reply = "success"
    again = payer.redeliver(out_trade_no, times=2)

    assert (first["delivered"], first["response_text"]) == (False, "fail")
    assert again["delivered"] is True
    assert [d["delivered"] for d in again["deliveries"]] == [True, True]
    assert len(receiver.forms) == 3
    notifications = [adapter.verify_notification(form) for form in receiver.forms]
    assert len({n.notify_id for n in notifications}) == 1  # retries of one notify
    recorded = payer.trade(out_trade_no)["notifies"]
    assert [(n["kind"], n["delivered"]) for n in recorded] == [
        ("pay", False),
        ("redeliver", True),
        ("redeliver", True),
    ]


def test_anything_but_exactly_success_is_a_failed_delivery(adapter, payer, receiver):
    receiver.reply = "success\n"
    out_trade_no, _ = open_trade(adapter, payer, receiver)

    assert payer.pay(out_trade_no)["delivered"] is False


def test_a_lost_notify_leaves_a_paid_trade_to_be_found_by_query(adapter, payer, receiver):
    out_trade_no, _ = open_trade(adapter, payer, receiver)

    paid = payer.pay(out_trade_no, notify=False)

    assert paid["delivered"] is False
    assert receiver.forms == []
    assert adapter.query(out_trade_no).trade_status == TradeStatus.TRADE_SUCCESS


def test_the_cashier_button_pays_and_returns_to_the_merchant(served, adapter, payer, receiver):
    out_trade_no, page = open_trade(
        adapter, payer, receiver, return_url="http://127.0.0.1:9/h5/orders/7?from=alipay"
    )
    assert 'action="/sandbox/alipay/cashier/pay"' in page.text

    response = requests.post(
        served.url + "/sandbox/alipay/cashier/pay",
        data={"out_trade_no": out_trade_no},
        allow_redirects=False,
        timeout=10,
    )

    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("http://127.0.0.1:9/h5/orders/7?from=alipay&")
    returned = dict(parse_qsl(urlsplit(location).query))
    returned.pop("from")
    assert returned["method"] == "alipay.trade.wap.pay.return"
    assert (returned["out_trade_no"], returned["total_amount"]) == (out_trade_no, "50.00")
    assert verifies(returned, served.app.config["ALIPAY_PUBLIC_KEY"], {"sign", "sign_type"})
    assert len(receiver.forms) == 1


def test_a_paid_trade_cannot_be_paid_again(adapter, payer, receiver):
    out_trade_no = paid_trade(adapter, payer, receiver)

    refused = requests.post(payer.base + "/pay", json={"out_trade_no": out_trade_no}, timeout=10)

    assert refused.status_code == 409
    assert refused.json()["code"] == "trade_not_payable"
    assert len(receiver.forms) == 1


# --- Notifies a webhook must refuse --------------------------------------------------------------


@pytest.mark.parametrize(
    "later",
    [timedelta(hours=48, minutes=1), timedelta(days=13), -timedelta(minutes=6)],
)
def test_a_genuine_notify_out_of_date_is_refused_as_a_replay(adapter, payer, receiver, later):
    """Alipay resends an unanswered notify for about 25 hours; a signed one older than two
    days (or from too far ahead of our clock) is a replay."""
    out_trade_no, _ = open_trade(adapter, payer, receiver)
    payer.pay(out_trade_no)
    [form] = receiver.forms
    assert adapter.verify_notification(form).out_trade_no == out_trade_no  # fresh: accepted
    with pytest.raises(NotificationInvalid) as stale:
        adapter.verify_notification(form, now=clock.now() + later)
    assert "notify_time" in stale.value.reason


def test_a_genuine_notify_is_ours_only_when_it_names_our_merchant(served, adapter, payer, receiver):
    """Alipay signs the notifies of every merchant an app is authorised for: one naming another
    seller_id is a payment to someone else."""
    out_trade_no = paid_trade(adapter, payer, receiver)
    [form] = receiver.forms
    assert form["seller_id"] == served.app.config["ALIPAY_SELLER_ID"]
    assert adapter.verify_notification(form).out_trade_no == out_trade_no
    other = Alipay.from_config(config_with(served, ALIPAY_SELLER_ID="2088000000000001"))
    with pytest.raises(NotificationInvalid) as invalid:
        other.verify_notification(form)
    assert "seller_id" in invalid.value.reason


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("signature", "signature"),
        ("amount", "signature"),
        ("app_id", "app_id"),
        ("seller_id", "seller_id"),
    ],
)
def test_tampered_notifies_are_invalid(adapter, payer, receiver, tamper, reason):
    out_trade_no, _ = open_trade(adapter, payer, receiver)

    sent = payer.notify_raw(out_trade_no, tamper)

    [form] = receiver.forms
    assert form.to_dict() == sent["form"]
    with pytest.raises(NotificationInvalid) as invalid:
        adapter.verify_notification(form)
    assert reason in invalid.value.reason


def test_a_validly_signed_notify_with_another_amount_is_left_to_the_order_check(
    adapter, payer, receiver
):
    out_trade_no, _ = open_trade(adapter, payer, receiver, amount_fen=5000)

    payer.notify_raw(out_trade_no, "signed_amount")

    notification = adapter.verify_notification(receiver.forms[0])
    assert notification.total_fen != 5000  # the webhook must compare it with the order


def valid_form(adapter, payer, receiver):
    paid_trade(adapter, payer, receiver)
    return receiver.forms[0].to_dict()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda form: form.pop("sign"), "no sign"),
        (lambda form: form.update(sign="not base64 !!"), "signature"),
        (lambda form: form.update(sign_type="RSA"), "sign_type"),
        (lambda form: form.pop("sign_type"), "sign_type"),
        (lambda form: form.update(extra="added after signing"), "signature"),
        (lambda form: form.pop("notify_id"), "signature"),
    ],
)
def test_notify_forms_that_are_refused(adapter, payer, receiver, change, reason):
    form = valid_form(adapter, payer, receiver)
    change(form)

    with pytest.raises(NotificationInvalid) as invalid:
        adapter.verify_notification(form)

    assert reason in invalid.value.reason


def test_a_field_sent_twice_is_refused(adapter, payer, receiver):
    form = MultiDict(valid_form(adapter, payer, receiver))
    form.add("total_amount", "0.01")

    with pytest.raises(NotificationInvalid) as invalid:
        adapter.verify_notification(form)

    assert "more than once" in invalid.value.reason


def test_a_notify_with_an_unreadable_amount_is_refused(served, adapter, payer, receiver):
    # Validly signed by Alipay's key, yet not an amount: refused as unreadable, not trusted.
    form = valid_form(adapter, payer, receiver)
    form["total_amount"] = "50.001"
    form.pop("sign")
    content = "&".join(f"{k}={v}" for k, v in sorted(form.items()) if k != "sign_type")
    key = serialization.load_pem_private_key(
        served.app.config["SANDBOX_ALIPAY_PRIVATE_KEY"].encode(), password=None
    )
    signature = key.sign(content.encode(), padding.PKCS1v15(), hashes.SHA256())
    form["sign"] = base64.b64encode(signature).decode()

    with pytest.raises(NotificationInvalid) as invalid:
        adapter.verify_notification(form)

    assert "unreadable" in invalid.value.reason


# --- Close ---------------------------------------------------------------------------------------


def test_closing_an_unpaid_trade(adapter, payer, receiver):
    out_trade_no, _ = open_trade(adapter, payer, receiver)

    assert adapter.close(out_trade_no) is True

    assert adapter.query(out_trade_no).trade_status == TradeStatus.TRADE_CLOSED
    refused = requests.post(payer.base + "/pay", json={"out_trade_no": out_trade_no}, timeout=10)
    assert refused.status_code == 409
    assert receiver.forms == []


def test_closing_a_trade_alipay_never_saw(adapter):
    assert adapter.close(new_out_trade_no()) is False


def test_closing_a_paid_trade_is_rejected(adapter, payer, receiver):
    out_trade_no = paid_trade(adapter, payer, receiver)

    with pytest.raises(AlipayRejected) as rejected:
        adapter.close(out_trade_no)

    assert rejected.value.sub_code == "ACQ.TRADE_STATUS_ERROR"
    assert adapter.query(out_trade_no).trade_status == TradeStatus.TRADE_SUCCESS


# --- Refunds -------------------------------------------------------------------------------------


def test_partial_refunds_until_too_much(adapter, payer, receiver):
    out_trade_no = paid_trade(adapter, payer, receiver, amount_fen=5000)

    first = adapter.refund(out_trade_no, out_trade_no + "_r1", 2000, "患者取消")
    second = adapter.refund(out_trade_no, out_trade_no + "_r2", 2500, "患者取消")
    with pytest.raises(AlipayRejected) as rejected:
        adapter.refund(out_trade_no, out_trade_no + "_r3", 501, "患者取消")

    assert (first.refund_fen, first.refunded_total_fen, first.fund_change) == (2000, 2000, True)
    assert (second.refund_fen, second.refunded_total_fen, second.fund_change) == (2500, 4500, True)
    assert first.refunded_at.utcoffset() == timedelta(hours=8)
    assert rejected.value.code == "40004"
    assert rejected.value.sub_code == "ACQ.REASON_TRADE_REFUND_FEE_ERR"
    assert adapter.query(out_trade_no).trade_status == TradeStatus.TRADE_SUCCESS
    assert payer.trade(out_trade_no)["refunded_amount"] == "45.00"


def test_the_same_refund_request_twice_moves_money_once(adapter, payer, receiver):
    out_trade_no = paid_trade(adapter, payer, receiver, amount_fen=5000)
    request_no = out_trade_no + "_r1"

    first = adapter.refund(out_trade_no, request_no, 2000, "患者取消")
    again = adapter.refund(out_trade_no, request_no, 2000, "患者取消")
    with pytest.raises(AlipayRejected) as discordant:
        adapter.refund(out_trade_no, request_no, 1000, "患者取消")

    assert (first.fund_change, again.fund_change) == (True, False)
    assert again.refunded_total_fen == 2000
    assert discordant.value.sub_code == "ACQ.DISCORDANT_REPEAT_REQUEST"
    assert payer.trade(out_trade_no)["refunded_amount"] == "20.00"


def test_a_full_refund_closes_the_trade(adapter, payer, receiver):
    out_trade_no = paid_trade(adapter, payer, receiver, amount_fen=5000)

    result = adapter.refund(out_trade_no, out_trade_no + "_all", 5000, "停诊")

    assert result.refunded_total_fen == 5000
    assert adapter.query(out_trade_no).trade_status == TradeStatus.TRADE_CLOSED


def test_query_refund(adapter, payer, receiver):
    out_trade_no = paid_trade(adapter, payer, receiver, amount_fen=5000)
    made = adapter.refund(out_trade_no, out_trade_no + "_r1", 1230, "患者取消")

    found = adapter.query_refund(out_trade_no, out_trade_no + "_r1")

    assert (found.out_request_no, found.refund_fen) == (out_trade_no + "_r1", 1230)
    assert found.refunded_at == made.refunded_at
    assert adapter.query_refund(out_trade_no, out_trade_no + "_none") is None
    assert adapter.query_refund(new_out_trade_no(), "R1") is None


@pytest.mark.parametrize("opened", [True, False])
def test_refunding_what_was_not_paid_is_rejected(adapter, payer, receiver, opened):
    out_trade_no = open_trade(adapter, payer, receiver)[0] if opened else new_out_trade_no()

    with pytest.raises(AlipayRejected) as rejected:
        adapter.refund(out_trade_no, out_trade_no + "_r1", 100, "患者取消")

    expected = "ACQ.TRADE_STATUS_ERROR" if opened else "ACQ.TRADE_NOT_EXIST"
    assert rejected.value.sub_code == expected


# --- The daily bill ------------------------------------------------------------------------------


def test_the_days_bill_lists_payments_and_refunds(adapter, payer, receiver):
    first = paid_trade(adapter, payer, receiver, amount_fen=5000)
    second = paid_trade(adapter, payer, receiver, amount_fen=1230)
    adapter.refund(first, first + "_r1", 2000, "患者取消")

    rows = adapter.trade_bill(clock.business_date(clock.now()))

    ours = sorted(
        (row for row in rows if row.out_trade_no in (first, second)),
        key=lambda row: (row.out_trade_no != first, row.type),
    )
    assert [(r.out_trade_no, r.type, r.amount_fen, r.out_request_no) for r in ours] == [
        (first, "payment", 5000, None),
        (first, "refund", 2000, first + "_r1"),
        (second, "payment", 1230, None),
    ]
    query = adapter.query(first)
    assert all(row.trade_no == query.trade_no for row in ours[:2])
    for row in ours:
        assert row.time.utcoffset() == timedelta(hours=8)
        assert abs(row.time - clock.now()) < timedelta(minutes=5)


def test_a_day_without_trades_has_no_bill(adapter):
    with pytest.raises(AlipayRejected) as rejected:
        adapter.trade_bill(date(2020, 1, 1))

    assert rejected.value.sub_code == "isp.bill_not_exist"


def test_the_bill_file_is_a_gbk_zip_as_alipay_writes_it(served, adapter, payer, receiver):
    paid_trade(adapter, payer, receiver)
    query = plain_sdk(served).client_api(
        "alipay.data.dataservice.bill.downloadurl.query",
        {"bill_type": "trade", "bill_date": clock.business_date(clock.now()).isoformat()},
        timestamp=beijing_timestamp(),
    )
    answer = requests.get(served.url + "/sandbox/alipay/gateway.do?" + query, timeout=10)
    url = answer.json()["alipay_data_dataservice_bill_downloadurl_query_response"][
        "bill_download_url"
    ]

    bundle = zipfile.ZipFile(io.BytesIO(requests.get(url, timeout=10).content))
    names = sorted(bundle.namelist())
    assert names[0].endswith("_业务明细(汇总).csv")
    assert names[1].endswith("_业务明细.csv")
    detail = bundle.read(names[1])
    assert detail.decode("gbk").startswith("#支付宝业务明细查询")
    with pytest.raises(UnicodeDecodeError):
        detail.decode("utf-8")


# --- Refusals of the call itself -----------------------------------------------------------------


def test_a_request_signed_with_another_key_is_refused(served, ctx):
    other = Alipay.from_config(config_with(served, ALIPAY_APP_PRIVATE_KEY=rsa_private_pem()))

    with pytest.raises(AlipayError) as refused:
        other.query(new_out_trade_no())

    assert not isinstance(refused.value, AlipayRejected | AlipayUnavailable)
    assert (refused.value.code, refused.value.sub_code) == ("40002", "isv.invalid-signature")


def test_another_app_id_is_refused(served, ctx):
    other = Alipay.from_config(config_with(served, ALIPAY_APPID="2021000000000002"))

    with pytest.raises(AlipayError) as refused:
        other.query(new_out_trade_no())

    assert not isinstance(refused.value, AlipayRejected | AlipayUnavailable)
    assert refused.value.sub_code == "isv.invalid-app-id"


def test_an_answer_not_signed_by_alipay_is_not_trusted(served, ctx):
    # Configured with a key that is not the one the answers are signed with.
    other = Alipay.from_config(config_with(served, ALIPAY_PUBLIC_KEY=public_pem(rsa_private_pem())))

    with pytest.raises(AlipayUnavailable) as unavailable:
        other.query(new_out_trade_no())

    assert "signature" in unavailable.value.message


def test_the_stand_in_answers_an_unknown_method_unsigned(served):
    query = plain_sdk(served).client_api(
        "alipay.trade.teleport", {"out_trade_no": "T1"}, timestamp=beijing_timestamp()
    )

    answer = requests.get(served.url + "/sandbox/alipay/gateway.do?" + query, timeout=10).json()

    assert answer == {
        "error_response": {
            "code": "40002",
            "msg": "Invalid Arguments",
            "sub_code": "isv.invalid-method",
            "sub_msg": "不存在的方法名",
        }
    }


def test_timestamps_are_beijing_time_whatever_the_process_tz(served, adapter, monkeypatch):
    # The stand-in refuses server calls stamped more than 15 minutes from Beijing time.
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert adapter.query(new_out_trade_no()) is None
        answer = plain_sdk(served).api_alipay_trade_query(out_trade_no=new_out_trade_no())
    finally:
        monkeypatch.undo()
        time.tzset()

    assert answer["sub_code"] == "isv.invalid-timestamp"  # the SDK's own, local-time stamp


# --- Alipay unreachable, slow, busy or not Alipay ------------------------------------------------


def test_an_unreachable_gateway_is_unavailable(served, ctx):
    down = Alipay.from_config(config_with(served, ALIPAY_GATEWAY="http://127.0.0.1:1/gateway.do"))

    with pytest.raises(AlipayUnavailable) as unavailable:
        down.query(new_out_trade_no())

    assert unavailable.value.code is None


def test_an_error_page_instead_of_the_gateway_is_unavailable(served, ctx):
    wrong = Alipay.from_config(config_with(served, ALIPAY_GATEWAY=served.url + "/not-alipay"))

    with pytest.raises(AlipayUnavailable) as unavailable:
        wrong.query(new_out_trade_no())

    assert "404" in unavailable.value.message


@pytest.fixture
def silent_server():
    """A server that accepts connections and then says nothing, or trickles a body."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()
    mode = {"trickle": False}

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                if mode["trickle"]:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                    while not stop.is_set():
                        try:
                            conn.sendall(b"{")
                        except OSError:
                            break
                        time.sleep(0.05)
                stop.wait(5)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/gateway.do", mode
    stop.set()
    thread.join(timeout=5)
    listener.close()


def test_a_gateway_that_never_answers_times_out(served, ctx, silent_server):
    url, _ = silent_server
    silent = Alipay.from_config(config_with(served, ALIPAY_GATEWAY=url), timeout=0.5)

    started = time.monotonic()
    with pytest.raises(AlipayUnavailable):
        silent.query(new_out_trade_no())

    assert time.monotonic() - started < 3


def test_a_gateway_that_trickles_its_answer_hits_the_deadline(served, ctx, silent_server):
    url, mode = silent_server
    mode["trickle"] = True
    slow = Alipay.from_config(config_with(served, ALIPAY_GATEWAY=url), timeout=1, deadline=1)

    started = time.monotonic()
    with pytest.raises(AlipayUnavailable) as unavailable:
        slow.query(new_out_trade_no())

    assert time.monotonic() - started < 3
    assert "too slow" in unavailable.value.message


def test_service_unavailable_is_unavailable(adapter, payer):
    payer.fail_next("alipay.trade.query")

    with pytest.raises(AlipayUnavailable) as unavailable:
        adapter.query(new_out_trade_no())

    assert (unavailable.value.code, unavailable.value.sub_code) == ("20000", "isp.unknow-error")
    assert adapter.query(new_out_trade_no()) is None  # only the next call failed


# --- Control endpoints ---------------------------------------------------------------------------


def test_control_endpoints_validate_with_the_error_envelope(http):
    unknown = http.post("/sandbox/alipay/pay", json={"out_trade_no": new_out_trade_no()})
    bad_tamper = http.post(
        "/sandbox/alipay/notify-raw", json={"out_trade_no": "T1", "tamper": "everything"}
    )
    bad_number = http.post("/sandbox/alipay/pay", json={"out_trade_no": "a-b"})

    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not_found"
    for response, field in ((bad_tamper, "tamper"), (bad_number, "out_trade_no")):
        assert response.status_code == 422
        assert field in response.json()["errors"]


def test_notifies_go_only_to_this_machine(adapter, payer):
    out_trade_no = new_out_trade_no()
    url = adapter.wap_pay_url(
        out_trade_no,
        SUBJECT,
        100,
        clock.now() + timedelta(minutes=15),
        notify_url="https://hospital.example.com/webhooks/alipay",
    )
    payer.open(url)

    paid = payer.pay(out_trade_no)

    assert paid["delivered"] is False
    assert "127.0.0.1" in payer.trade(out_trade_no)["notifies"][0]["error"]
