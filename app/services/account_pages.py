"""An account's own pages (its profile, patients and orders; app/api/public.py ``AccountRead``)
are cached until the account's next change: after every commit, the accounts whose rows it
changed have their cached pages dropped (app/infra/cache.py, the account's scope).

Changes made through the ORM are found by the session itself (``install``): an account,
patient or order row names its account; a payment or refund names its order, whose account the
session knows when it holds the order, else is read in the same flush. A statement outside the
ORM session that writes those rows calls ``changed`` after its commit (the hold group's orders,
app/services/booking/holds.py, before the group's answers), unless it writes nothing the pages
show (a payment's means to pay, app/services/payments/paying.py). A savepoint's release or rollback
leaves the transaction's notes as they are. The test suite serves no cached page without
computing it anew (ACCOUNT_CACHE_CHECK), so a change that forgot to drop one fails the test
that reads the page after it.
"""

from itertools import chain

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import redis_store
from app.infra import cache
from app.models import Account, Order, Patient, Payment, Refund

_ORDERS = sa.inspect(Order)
_CHANGED = "account_pages.changed"  # session.info: the accounts changed since the last commit


def install():
    """Drop the pages of the accounts each committed transaction changed (for every session;
    create_app calls this once)."""
    if not event.contains(Session, "after_commit", _drop_committed):
        event.listen(Session, "after_flush", _note_flushed)
        event.listen(Session, "after_commit", _drop_committed)
        event.listen(Session, "after_soft_rollback", _forget_rolled_back)


def changed(account_ids, pipe=None):
    """Drop the cached pages of ``account_ids``: call after the commit that changed them (with
    ``pipe``, when that batch of after-commit effects is sent)."""
    if pipe is not None:
        for account_id in set(account_ids):
            cache.invalidate(cache.account(account_id), pipe)
        return
    with redis_store.batch("account pages' invalidation") as own:
        changed(account_ids, own)


def _note_flushed(session, flush_context):
    accounts, orders = set(), set()
    for row in chain(session.new, session.dirty, session.deleted):
        if isinstance(row, Account):
            accounts.add(row.id)
        elif isinstance(row, Patient | Order):
            accounts.add(row.account_id)
        elif isinstance(row, Payment | Refund):
            orders.add(row.order_id)
    orders.discard(None)
    unknown = set()
    for order_id in orders:  # an order the session holds names its account without a query
        order = session.identity_map.get(_ORDERS.identity_key_from_primary_key((order_id,)))
        if order is not None and "account_id" in sa.inspect(order).dict:
            accounts.add(order.account_id)
        else:
            unknown.add(order_id)
    if unknown:
        owners = sa.select(Order.account_id).where(Order.id.in_(unknown))
        accounts.update(session.connection().execute(owners).scalars())
    if accounts:
        session.info.setdefault(_CHANGED, set()).update(accounts)


def _drop_committed(session):
    if session.get_nested_transaction() is not None:
        return  # a savepoint released: the transaction goes on, its changes not yet seen
    accounts = session.info.pop(_CHANGED, None)
    if accounts:
        changed(accounts)


def _forget_rolled_back(session, previous_transaction):
    if previous_transaction.parent is None:  # the transaction, not a savepoint within it
        session.info.pop(_CHANGED, None)
