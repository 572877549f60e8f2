"""Patients' accounts as platform staff handle them: finding one, freezing and unfreezing it with
a reason, its no-show strikes and lifting the block they earned."""

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.domain import clock
from app.domain import visits as rules
from app.domain.accounts import AccountStatus
from app.domain.orders import OrderStatus
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.models import Account, Order, Patient
from app.services import audit, auth, protection
from app.services.transaction import lock_one, transaction


def find(text) -> list[Account]:
    """Accounts by id, verified phone (its keyed hash) or a patient's exact name."""
    keys = protection.search_keys(text)
    matches = []
    if keys.row_id is not None:
        matches.append(Account.id == keys.row_id)
    if keys.phone_hash is not None:
        matches.append(Account.phone_hash == keys.phone_hash)
    if keys.name_hash is not None:
        matches.append(
            Account.id.in_(sa.select(Patient.account_id).where(Patient.name_hash == keys.name_hash))
        )
    if not keys.text or not matches:
        return []
    return db.session.scalars(
        sa.select(Account).where(sa.or_(*matches)).order_by(Account.id.desc()).limit(50)
    ).all()


@dataclass(frozen=True)
class AccountView:
    """An account with its patients and its no-show record."""

    account: Account
    patients: list
    strikes: int
    orders: int


def view(account_id, now=None) -> AccountView:
    """The account as staff see it (404 when there is none)."""
    now = now or clock.now()
    account = db.session.get(Account, account_id)
    if account is None:
        raise NotFound("未找到该账号")
    window = current_app.config["NO_SHOW_WINDOW_DAYS"]
    no_shows = db.session.scalars(
        sa.select(Order.closed_at).where(
            Order.account_id == account.id,
            Order.status == OrderStatus.NO_SHOW,
            Order.closed_at > now - timedelta(days=window),
        )
    ).all()
    return AccountView(
        account=account,
        patients=db.session.scalars(
            sa.select(Patient).where(Patient.account_id == account.id).order_by(Patient.id)
        ).all(),
        strikes=rules.strikes_in_window(no_shows, now=now, window_days=window),
        orders=db.session.scalar(
            sa.select(sa.func.count()).select_from(Order).where(Order.account_id == account.id)
        ),
    )


def _reason(reason) -> str:
    reason = " ".join(str(reason or "").split())
    if not reason or len(reason) > 200:
        message = "请填写原因（1–200 字）"
        raise ValidationFailed.on("reason", message)
    return reason


def _lock_account(account_id) -> Account:
    account = lock_one(sa.select(Account).where(Account.id == account_id))
    if account is None:
        raise NotFound("未找到该账号")
    return account


def freeze(account_id, reason, staff) -> Account:
    """冻结: the account can no longer sign in or book; its tokens stop working at once."""
    reason = _reason(reason)
    with transaction():
        account = _lock_account(account_id)
        if account.status != AccountStatus.ACTIVE:
            raise Conflict("只能冻结正常状态的账号", code="account_not_active")
        account.status = AccountStatus.FROZEN
        account.token_version += 1
        audit.record(
            staff,
            "freeze_account",
            account,
            {"status": "active"},
            {"status": "frozen", "reason": reason},
        )
    auth.forget_state(account.id)
    return account


def unfreeze(account_id, reason, staff) -> Account:
    """解冻: the account may sign in again (with a new login)."""
    reason = _reason(reason)
    with transaction():
        account = _lock_account(account_id)
        if account.status != AccountStatus.FROZEN:
            raise Conflict("该账号未被冻结", code="account_not_frozen")
        account.status = AccountStatus.ACTIVE
        audit.record(
            staff,
            "unfreeze_account",
            account,
            {"status": "frozen"},
            {"status": "active", "reason": reason},
        )
    auth.forget_state(account.id)
    return account


def lift_block(account_id, reason, staff, now=None) -> Account:
    """解除爽约限制: the account may book again before its block would have ended."""
    now = now or clock.now()
    reason = _reason(reason)
    with transaction():
        account = _lock_account(account_id)
        if account.blocked_until is None or account.blocked_until <= now:
            raise Conflict("该账号没有生效中的爽约限制", code="not_blocked")
        before = {"blocked_until": account.blocked_until.isoformat()}
        account.blocked_until = None
        audit.record(
            staff, "lift_block", account, before, {"blocked_until": None, "reason": reason}
        )
    auth.forget_state(account.id)
    return account
