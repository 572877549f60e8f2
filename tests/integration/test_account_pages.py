"""app/services/account_pages.py in real MariaDB and Redis: a commit that changes an account's
rows drops its cached pages, whichever row it changed; a savepoint or a rollback does not."""

import contextlib
from datetime import timedelta

import sqlalchemy as sa

from app.domain import clock
from app.domain.payments import RefundReason, RefundStatus
from app.extensions import db
from app.infra import cache
from app.models import Account, Order, Payment, Refund
from app.services.transaction import transaction
from tests.factories import make_account, make_doctor
from tests.integration.committed import make_paid_order, make_patients

TOMORROW = clock.business_date(clock.now()) + timedelta(days=1)


def _cache_page(account_id):
    now = clock.now()
    lookup = cache.account_lookup(account_id, "page", now)
    cache.account_page(account_id, lookup, lambda now: ({"page": 1}, None), now)
    assert _cached(account_id)


def _cached(account_id) -> bool:
    return cache.account_lookup(account_id, "page", clock.now()).document is not None


def test_a_committed_change_of_each_kind_of_row_drops_its_accounts_pages(committed):
    order = make_paid_order(make_doctor(), TOMORROW)
    account_id = db.session.scalar(sa.select(Order.account_id).where(Order.id == order.id))
    ((bystander, _),) = make_patients(1)
    payment = db.session.scalar(sa.select(Payment).where(Payment.order_id == order.id))
    changes = [
        lambda: setattr(db.session.get(Account, account_id), "nickname", "新昵称"),
        lambda: setattr(db.session.get(Order, order.id).patient, "relationship", "child"),
        lambda: setattr(db.session.get(Order, order.id), "cancel_reason", "测试"),
        lambda: setattr(db.session.get(Payment, payment.id), "provider_trade_no", "4200000002"),
        lambda: db.session.add(
            Refund(
                payment_id=payment.id,
                order_id=order.id,
                out_refund_no=f"RF{order.id}",
                amount_fen=1,
                reason=RefundReason.PATIENT_CANCEL,
                status=RefundStatus.PENDING,
            )
        ),
    ]
    for change in changes:
        _cache_page(account_id)
        _cache_page(bystander)
        with transaction():
            change()
        assert (_cached(account_id), _cached(bystander)) == (False, True)


def test_a_released_savepoint_waits_for_the_commit(committed):
    account = make_account()
    db.session.commit()
    _cache_page(account.id)
    with transaction():
        with db.session.begin_nested():
            account.nickname = "改了"
        assert _cached(account.id)  # not yet committed: a reader would cache the old page
    assert not _cached(account.id)


def test_a_rolled_back_change_drops_nothing_then_or_later(committed):
    first, second = make_account(), make_account()
    db.session.commit()
    _cache_page(first.id)
    first.nickname = "不会保存"
    db.session.flush()
    db.session.rollback()
    with transaction():
        db.session.get(Account, second.id).nickname = "另一位"
    assert _cached(first.id)


def test_a_rolled_back_savepoint_keeps_what_the_transaction_changed_before_it(committed):
    account = make_account()
    db.session.commit()
    _cache_page(account.id)
    with transaction():
        db.session.get(Account, account.id).nickname = "先改"
        db.session.flush()
        with contextlib.suppress(RuntimeError), db.session.begin_nested():
            raise RuntimeError("the savepoint is rolled back")
    assert not _cached(account.id)
