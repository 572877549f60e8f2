"""Reconciliation (对账) over real bills: payments and refunds made over HTTP through the WeChat Pay
and Alipay stand-ins, our books then tampered with, and today's bills (the stand-ins serve the
same day's) matched against them: every kind of difference, the stored result, the automatic
refund of money we never asked for, re-runs, and a bill that does not match its hash.

This module serves its own app on its own database and Redis, so each day's bill holds only the
trades made here and the counts can be exact.
"""

import secrets
from datetime import datetime, time, timedelta

import pytest
import sqlalchemy as sa

from app.domain import clock
from app.domain.payments import (
    PaymentChannel,
    PaymentStatus,
    RefundReason,
    RefundStatus,
    new_out_trade_no,
)
from app.domain.reconciliation import FindingKind, ReconciliationStatus
from app.extensions import db, redis_store
from app.integrations import alipay, channels, wechatpay
from app.models import Order, Payment, Reconciliation, ReconciliationItem, Refund
from app.services import reconciliation
from tests import support
from tests.e2e.alipay_helpers import AlipayPayer
from tests.e2e.clients import AppClient, User, expect, hold, patient_of
from tests.e2e.wechat_helpers import WeChatPhone, new_openid
from tests.e2e.wechatpay_helpers import WeChatPayer

SUBJECT = "挂号费"


# --- A served app of this module's own ---------------------------------------------------------


@pytest.fixture(scope="module")
def served():
    app = support.testing_app("_e2e_reconciliation", redis_offset=3)
    with app.app_context():
        redis_store.client.flushdb()
    with support.ServedApp(app) as server:
        server.app = app
        app.config["WECHAT_API_BASE"] = server.url + "/sandbox/wechat/"
        app.config["WECHATPAY_API_BASE"] = server.url + "/sandbox/wechatpay"
        app.config["PUBLIC_BASE_URL"] = server.url
        app.config["ALIPAY_GATEWAY"] = server.url + "/sandbox/alipay/gateway.do"
        yield server
    with app.app_context():
        redis_store.client.flushdb()


@pytest.fixture(scope="module")
def http(served):
    with AppClient(served.url) as client:
        yield client


@pytest.fixture(scope="module")
def phone(served):
    return WeChatPhone(served.url)


@pytest.fixture(scope="module")
def wechat_payer(served):
    return WeChatPayer(served.url)


@pytest.fixture(scope="module")
def alipay_payer(served):
    return AlipayPayer(served.url)


@pytest.fixture(scope="module", autouse=True)
def not_at_midnight():
    """Every trade here must fall on one day in China, the bill's."""
    now = clock.now()
    if now.time() >= time(23, 55):
        pytest.skip("too close to midnight in China: the trades would straddle two bills")


@pytest.fixture
def ctx(served):
    with served.app.app_context():
        yield


# --- Acting over HTTP --------------------------------------------------------------------------


class Shop:
    """Patients who hold, pay and cancel orders over HTTP, and the tampering done to our books."""

    def __init__(self, served, http, phone, world, wechat_payer, alipay_payer):
        self.served, self.http, self.phone, self.world = served, http, phone, world
        self.wechat, self.alipay = wechat_payer, alipay_payer

    def order(self):
        """A new patient's unpaid hold on a visit three days ahead (cancellable for free)."""
        user = User(self.http, self.phone)
        day = clock.business_date(clock.now()) + timedelta(days=3)
        order = expect(hold(user, self.world.schedule(on=day), patient_of(user)), 201)
        return user, order

    def start(self, user, order, channel):
        started = user.call(
            "POST", f"/api/v1/orders/{order['id']}/payments", json={"channel": channel}
        )
        started = expect(started, 201)
        if channel == "alipay":
            assert self.alipay.open(started["pay_url"]).status_code == 200
        return started["out_trade_no"]

    def paid(self, channel, notify=True):
        """A paid order: (user, order, out_trade_no)."""
        user, order = self.order()
        out_trade_no = self.start(user, order, channel)
        payer = self.wechat if channel == "wechat" else self.alipay
        payer.pay(out_trade_no, notify=notify)
        return user, order, out_trade_no

    def cancel(self, user, order):
        cancelled = expect(user.call("POST", f"/api/v1/orders/{order['id']}/cancel"), 200)
        assert cancelled["status"] == "cancelled"
        return self.refund_of(order["id"]).out_refund_no

    def refund_of(self, order_id):
        with self.served.app.app_context():
            refund = db.session.scalar(sa.select(Refund).where(Refund.order_id == order_id))
            db.session.expunge_all()
            return refund

    def run_jobs(self):
        """Run the queued jobs (refunds, payment checks) as a worker does."""
        with self.served.app.app_context():
            support.run_queued_jobs()

    def tamper(self, model, where, **fields):
        """Change one row of our books behind the services' back."""
        with self.served.app.app_context():
            row = db.session.scalar(sa.select(model).filter_by(**where))
            for name, new in fields.items():
                setattr(row, name, new)
            db.session.commit()


@pytest.fixture
def shop(served, http, phone, world, wechat_payer, alipay_payer):
    return Shop(served, http, phone, world, wechat_payer, alipay_payer)


def unknown_wechat_payment(served, wechat_payer, amount_fen):
    """Money WeChat Pay took for a number of ours we have no record of (our row lost)."""
    out_trade_no = new_out_trade_no(90_000_000 + secrets.randbelow(10**6), PaymentChannel.WECHAT)
    with served.app.app_context():
        expires = clock.now() + timedelta(minutes=15)
        wechatpay.prepay(out_trade_no, SUBJECT, amount_fen, new_openid(), expires)
    wechat_payer.pay(out_trade_no, notify=False)
    return out_trade_no


def unknown_alipay_payment(served, alipay_payer, amount_fen):
    """Money Alipay took for a number of ours we have no record of (our row lost)."""
    out_trade_no = new_out_trade_no(90_000_000 + secrets.randbelow(10**6), PaymentChannel.ALIPAY)
    with served.app.app_context():
        expires = clock.now() + timedelta(minutes=15)
        url = alipay.wap_pay_url(out_trade_no, SUBJECT, amount_fen, expires)
    assert alipay_payer.open(url).status_code == 200
    alipay_payer.pay(out_trade_no, notify=False)
    return out_trade_no


# --- Reading the stored result -----------------------------------------------------------------


def stored(served, channel, day):
    """(the day's row as a dict, {(kind, out_trade_no, out_refund_no): item dict})."""
    with served.app.app_context():
        row = db.session.scalar(
            sa.select(Reconciliation).where(
                Reconciliation.bill_date == day, Reconciliation.channel == channel
            )
        )
        summary = {
            "id": row.id,
            "status": row.status,
            "error": row.error,
            "counts": {kind: row.count_of(kind) for kind in FindingKind},
            "paid": (row.paid_here_fen, row.paid_there_fen),
            "refunded": (row.refunded_here_fen, row.refunded_there_fen),
        }
        items = {
            (item.kind, item.out_trade_no, item.out_refund_no): {
                "here": item.amount_here_fen,
                "there": item.amount_there_fen,
                "note": item.note,
                "resolved": item.resolved,
            }
            for item in row.items
        }
        assert len(items) == len(row.items)
        db.session.rollback()
        return summary, items


def counts(matched=0, missing_here=0, missing_there=0, amount_mismatch=0):
    return {
        FindingKind.MATCHED: matched,
        FindingKind.MISSING_HERE: missing_here,
        FindingKind.MISSING_THERE: missing_there,
        FindingKind.AMOUNT_MISMATCH: amount_mismatch,
    }


def reconcile(served, channel, day):
    with served.app.app_context():
        return reconciliation.reconcile(channel, day).id


def found_by_reconciliation(served, out_trade_no):
    """The payment recorded for money we never asked for, and its refunds."""
    with served.app.app_context():
        payment = db.session.scalar(sa.select(Payment).where(Payment.out_trade_no == out_trade_no))
        refunds = db.session.scalars(sa.select(Refund).where(Refund.payment_id == payment.id)).all()
        db.session.expunge_all()
        return payment, refunds


# --- The tests ---------------------------------------------------------------------------------


def test_every_kind_of_difference_in_real_bills(served, shop, wechat_payer, alipay_payer):
    today = clock.business_date(clock.now())

    # WeChat Pay.
    _, w_matched, w_matched_no = shop.paid("wechat")
    w_user, w_refunded, w_refunded_no = shop.paid("wechat")
    w_refund_no = shop.cancel(w_user, w_refunded)
    shop.run_jobs()  # the refund goes to WeChat Pay (PROCESSING) …
    wechat_payer.settle_refund(w_refund_no)  # … which settles it and notifies us
    assert shop.refund_of(w_refunded["id"]).status == RefundStatus.SUCCESS
    _, w_silent, w_silent_no = shop.paid("wechat", notify=False)  # paid there, unconfirmed here
    w_unknown_no = unknown_wechat_payment(served, wechat_payer, 1234)
    _, w_changed, w_changed_no = shop.paid("wechat")
    shop.tamper(Payment, {"out_trade_no": w_changed_no}, amount_fen=w_changed["amount_fen"] + 1)
    w_user6, w_phantom = shop.order()
    w_phantom_no = shop.start(w_user6, w_phantom, "wechat")  # prepaid, never paid …
    shop.tamper(  # … but our books say paid
        Payment,
        {"out_trade_no": w_phantom_no},
        status=PaymentStatus.PAID,
        paid_at=clock.now(),
        provider_trade_no="4200000000000000000000000000",
    )

    # Alipay.
    *_, a_matched_no = shop.paid("alipay")
    a_user, a_refunded, a_refunded_no = shop.paid("alipay")
    a_refund_no = shop.cancel(a_user, a_refunded)
    shop.run_jobs()  # Alipay settles the refund in the call
    assert shop.refund_of(a_refunded["id"]).status == RefundStatus.SUCCESS
    a_user3, a_unsent, a_unsent_no = shop.paid("alipay")
    a_unsent_refund_no = shop.cancel(a_user3, a_unsent)  # recorded, never sent …
    shop.tamper(  # … but our books say it went back
        Refund,
        {"out_refund_no": a_unsent_refund_no},
        status=RefundStatus.SUCCESS,
        succeeded_at=clock.now(),
    )
    _, a_changed, a_changed_no = shop.paid("alipay")
    shop.tamper(Payment, {"out_trade_no": a_changed_no}, amount_fen=a_changed["amount_fen"] - 1)
    a_unknown_no = unknown_alipay_payment(served, alipay_payer, 1500)

    # First run.
    w_id = reconcile(served, "wechat", today)
    a_id = reconcile(served, "alipay", today)

    fee = w_matched["amount_fen"]  # every order here is for the same fee
    summary, items = stored(served, "wechat", today)
    assert summary["status"] == ReconciliationStatus.DONE and summary["error"] == ""
    assert summary["counts"] == counts(
        matched=3, missing_here=2, missing_there=1, amount_mismatch=1
    )
    assert summary["paid"] == (4 * fee + 1, 4 * fee + 1234)  # here: 1, 2, changed(+1), phantom
    assert summary["refunded"] == (fee, fee)
    assert set(items) == {
        (FindingKind.MISSING_HERE, w_silent_no, None),
        (FindingKind.MISSING_HERE, w_unknown_no, None),
        (FindingKind.AMOUNT_MISMATCH, w_changed_no, None),
        (FindingKind.MISSING_THERE, w_phantom_no, None),
    }
    assert items[(FindingKind.AMOUNT_MISMATCH, w_changed_no, None)] | {"note": ""} == {
        "here": fee + 1,
        "there": fee,
        "note": "",
        "resolved": False,
    }
    assert items[(FindingKind.MISSING_THERE, w_phantom_no, None)]["there"] is None
    assert "已发起查单补记" in items[(FindingKind.MISSING_HERE, w_silent_no, None)]["note"]
    assert w_matched_no not in {key[1] for key in items} and w_refunded_no not in str(items)

    # The money WeChat Pay took for nothing of ours goes back in full, automatically.
    payment, [refund] = found_by_reconciliation(served, w_unknown_no)
    assert (payment.order_id, payment.status, payment.amount_fen) == (None, "paid", 1234)
    assert (
        payment.provider_trade_no
        == wechat_payer.inspect(w_unknown_no)["transaction"]["transaction_id"]
    )
    assert (refund.order_id, refund.reason, refund.amount_fen, refund.status) == (
        None,
        RefundReason.RECONCILIATION,
        1234,
        RefundStatus.PENDING,
    )
    unknown_note = items[(FindingKind.MISSING_HERE, w_unknown_no, None)]["note"]
    assert unknown_note == (
        "渠道账单有此支付（¥12.34），本院当日无记录；"
        f"已自动全额退款（退款单号 {refund.out_refund_no}）"
    )

    summary, items = stored(served, "alipay", today)
    assert summary["status"] == ReconciliationStatus.DONE
    assert summary["counts"] == counts(
        matched=4, missing_here=1, missing_there=1, amount_mismatch=1
    )
    assert summary["paid"] == (4 * fee - 1, 4 * fee + 1500)
    assert summary["refunded"] == (2 * fee, fee)
    assert set(items) == {
        (FindingKind.MISSING_HERE, a_unknown_no, None),
        (FindingKind.AMOUNT_MISMATCH, a_changed_no, None),
        (FindingKind.MISSING_THERE, a_unsent_no, a_unsent_refund_no),
    }
    assert a_matched_no not in str(items) and a_refunded_no not in str(items)
    assert a_refund_no not in str(items)
    _, [a_refund] = found_by_reconciliation(served, a_unknown_no)
    assert a_refund.reason == RefundReason.RECONCILIATION and a_refund.amount_fen == 1500

    # A second run before anything changed: the same result, in the same rows, no second refund;
    # what staff marked resolved stays resolved.
    shop.tamper(
        ReconciliationItem,
        {"reconciliation_id": w_id, "out_trade_no": w_changed_no},
        resolved=True,
    )
    before, before_items = stored(served, "wechat", today)
    assert reconcile(served, "wechat", today) == w_id
    assert reconcile(served, "alipay", today) == a_id
    after, after_items = stored(served, "wechat", today)
    assert (after, after_items) == (before, before_items)
    assert after_items[(FindingKind.AMOUNT_MISMATCH, w_changed_no, None)]["resolved"] is True
    assert len(found_by_reconciliation(served, w_unknown_no)[1]) == 1
    assert len(found_by_reconciliation(served, a_unknown_no)[1]) == 1

    # The jobs run: the refunds of unknown money go out, and the payment we never heard of is
    # checked with WeChat Pay, which books its order. The next run sees our books mended.
    shop.run_jobs()
    assert found_by_reconciliation(served, w_unknown_no)[1][0].status == RefundStatus.PROCESSING
    assert found_by_reconciliation(served, a_unknown_no)[1][0].status == RefundStatus.SUCCESS
    assert wechat_payer.inspect(w_unknown_no)["refunds"][0]["amount"]["refund"] == 1234
    with served.app.app_context():
        assert db.session.get(Order, w_silent["id"]).status == "booked"
    reconcile(served, "wechat", today)
    reconcile(served, "alipay", today)
    summary, items = stored(served, "wechat", today)
    assert summary["counts"] == counts(
        matched=4, missing_here=1, missing_there=1, amount_mismatch=1
    )
    assert (FindingKind.MISSING_HERE, w_silent_no, None) not in items
    summary, items = stored(served, "alipay", today)
    # Alipay's refund of the unknown money went back today: matched on both sides.
    assert summary["counts"] == counts(
        matched=5, missing_here=1, missing_there=1, amount_mismatch=1
    )
    assert summary["refunded"] == (2 * fee + 1500, fee + 1500)


def test_a_bill_that_does_not_match_its_hash_is_a_failed_reconciliation(served, shop, wechat_payer):
    today = clock.business_date(clock.now())
    shop.paid("wechat")
    reconcile(served, "wechat", today)
    wechat_payer.tamper_next_bill()

    with pytest.raises(channels.ChannelUnavailable) as corrupted:
        reconcile(served, "wechat", today)

    assert isinstance(corrupted.value.__cause__, wechatpay.WeChatPayUnavailable)
    assert corrupted.value.__cause__.code == "BILL_HASH_MISMATCH"
    summary, items = stored(served, "wechat", today)
    assert summary["status"] == ReconciliationStatus.FAILED
    assert "BILL_HASH_MISMATCH" in summary["error"]
    assert items == {} and summary["counts"] == counts()
    reconcile(served, "wechat", today)  # the retry gets a whole bill
    assert stored(served, "wechat", today)[0]["status"] == ReconciliationStatus.DONE


def test_the_daily_job_runs_after_ten_for_the_day_before_and_once(served, shop, ctx):
    shop.paid("alipay")
    today = clock.business_date(clock.now())
    tomorrow = today + timedelta(days=1)
    with served.app.app_context():
        db.session.execute(sa.delete(ReconciliationItem))
        db.session.execute(sa.delete(Reconciliation))
        db.session.commit()

    early = datetime.combine(tomorrow, time(9, 59), tzinfo=clock.CHINA_TZ)
    assert reconciliation.reconcile_yesterday(now=early) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Reconciliation)) == 0

    after_ten = datetime.combine(tomorrow, time(10, 0), tzinfo=clock.CHINA_TZ)
    done = reconciliation.reconcile_yesterday(now=after_ten)
    assert sorted((row.channel, row.bill_date, row.status) for row in done) == [
        ("alipay", today, ReconciliationStatus.DONE),
        ("wechat", today, ReconciliationStatus.DONE),
    ]
    assert reconciliation.reconcile_yesterday(now=after_ten + timedelta(hours=1)) == []
