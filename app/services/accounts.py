"""The account holder's own data: profile, export and deletion."""

import sqlalchemy as sa

from app.domain import clock
from app.domain.accounts import AccountStatus
from app.extensions import db
from app.infra.packedsql import PackedSelect
from app.models import Account, Patient
from app.services import auth, patients, protection
from app.services.transaction import transaction

ANONYMISED_NAME = "已注销"


_account = Account.__table__.c
# What the account's page shows, as one packed row (app/infra/packedsql.py), like its pages of
# patients and orders: no ORM object is built for a page read.
_PROFILE = PackedSelect(
    sa.select(
        _account.id,
        _account.nickname,
        _account.phone_masked,
        _account.phone_hash,
        _account.openid,
        _account.status,
        _account.created_at,
    ).where(_account.id == sa.bindparam("account_id"))
)


def get_account(account_id):
    """The caller's account as its page shows it (AccountSchema's fields), or None."""
    rows = _PROFILE.rows(db.session.connection(), {"account_id": account_id})
    return rows[0] if rows else None


def update_account(account_id, changes) -> Account:
    """Change what the holder may change: the nickname."""
    with transaction():
        account = db.session.get(Account, account_id)
        if "nickname" in changes:
            account.nickname = changes["nickname"].strip()
    return account


def export_account(account_id) -> dict:
    """Everything kept about the account holder and their patients, in full (PIPL access right)."""
    account = db.session.get(Account, account_id)
    rows = db.session.scalars(
        sa.select(Patient).where(Patient.account_id == account_id).order_by(Patient.id)
    ).all()
    phone = (
        protection.unseal(account.phone_cipher, "account.phone") if account.phone_cipher else None
    )
    return {
        "exported_at": clock.now(),
        "account": {
            "id": account.id,
            "openid": account.openid,
            "unionid": account.unionid,
            "phone": phone,
            "nickname": account.nickname,
            "status": account.status,
            "created_at": account.created_at,
        },
        "patients": [
            {
                "id": patient.id,
                "name": patient.name,
                "id_type": patient.id_type,
                "sex": patient.sex,
                "birth_date": patient.birth_date,
                "relationship": patient.relationship,
                "insured": patient.insured,
                "medical_card_no": patient.medical_card_no,
                "removed": patient.live is None,
                "created_at": patient.created_at,
                **patients.reveal(patient),
            }
            for patient in rows
        ],
    }


def delete_account(account_id):
    """Close the account: revoke its tokens, forget how to reach it, anonymise its patients.

    Orders stay (the hospital's accounts need them) but no longer lead to a person.
    """
    with transaction():
        account = db.session.get(Account, account_id)
        auth.revoke_tokens(account)
        account.status = AccountStatus.DELETED
        account.deleted_at = clock.now()
        account.openid = account.unionid = None
        account.phone_cipher = account.phone_hash = account.phone_masked = None
        account.nickname = ""
        for patient in db.session.scalars(
            sa.select(Patient).where(Patient.account_id == account_id)
        ):
            patient.name = ANONYMISED_NAME
            patient.name_hash = None
            patient.id_number_cipher = patient.id_number_hash = None
            patient.phone_cipher = patient.phone_hash = patient.phone_masked = None
            patient.medical_card_no = None
            patient.live = patient.is_self = None
            patient.deleted_at = patient.deleted_at or account.deleted_at
    auth.forget_state(account_id)
