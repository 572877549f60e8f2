"""Subscription consents (订阅消息授权): what each account granted in wx.requestSubscribeMessage.

One grant allows one message of its kind. WeChat keeps the true count; ours decides whether to
try at all, and falls to zero when WeChat says none is left (43101).
"""

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import mysql, sqlite

from app.domain import clock
from app.domain.messages import MessageKind
from app.extensions import db
from app.models import SubscriptionConsent
from app.services.transaction import transaction


def _upsert(account_id, kinds):
    table = SubscriptionConsent.__table__
    rows = [
        {"account_id": account_id, "kind": kind, "remaining": 1, "updated_at": clock.now()}
        for kind in kinds
    ]
    dialect = db.session.get_bind().dialect.name
    if dialect == "mysql":
        statement = mysql.insert(table).values(rows)
        statement = statement.on_duplicate_key_update(
            remaining=table.c.remaining + 1, updated_at=statement.inserted.updated_at
        )
    else:
        statement = sqlite.insert(table).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.account_id, table.c.kind],
            set_={"remaining": table.c.remaining + 1, "updated_at": statement.excluded.updated_at},
        )
    db.session.execute(statement)


def grant(account_id, kinds) -> list[dict]:
    """Record one more allowed message of each kind in ``kinds`` (a kind named twice counts
    once: one tap grants each template once); the account's consents after it."""
    with transaction():
        _upsert(account_id, sorted(set(MessageKind(kind) for kind in kinds)))
    return consents(account_id)


def consents(account_id) -> list[dict]:
    """Every kind with its template id (for wx.requestSubscribeMessage) and the grants left."""
    left = dict(
        db.session.execute(
            sa.select(SubscriptionConsent.kind, SubscriptionConsent.remaining).where(
                SubscriptionConsent.account_id == account_id
            )
        ).all()
    )
    db.session.rollback()
    templates = current_app.config["WECHAT_TEMPLATES"]
    return [
        {
            "kind": kind,
            "name": kind.label,
            "template_id": (templates.get(kind) or {}).get("template_id"),
            "remaining": left.get(kind, 0),
        }
        for kind in MessageKind
    ]


def remaining(account_id, kind) -> int:
    """The messages of ``kind`` the account still allows."""
    return (
        db.session.scalar(
            sa.select(SubscriptionConsent.remaining).where(
                SubscriptionConsent.account_id == account_id, SubscriptionConsent.kind == kind
            )
        )
        or 0
    )


def spend(account_id, kind):
    """One message of ``kind`` was sent: one grant fewer (never below zero)."""
    db.session.execute(
        sa.update(SubscriptionConsent)
        .where(
            SubscriptionConsent.account_id == account_id,
            SubscriptionConsent.kind == kind,
            SubscriptionConsent.remaining > 0,
        )
        .values(remaining=SubscriptionConsent.remaining - 1)
    )


def none_left(account_id, kind):
    """WeChat says the account allows no more messages of ``kind``."""
    db.session.execute(
        sa.update(SubscriptionConsent)
        .where(SubscriptionConsent.account_id == account_id, SubscriptionConsent.kind == kind)
        .values(remaining=0)
    )
