"""The people side: accounts (WeChat or phone users) and the patients they manage."""

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.domain.accounts import AccountStatus, Relationship, Sex
from app.domain.identity import IdType
from app.extensions import db
from app.models.catalogue import TimestampMixin
from app.models.types import BigId, Sealed, StrEnum, UTCDateTime


class Account(TimestampMixin, db.Model):
    """An account of the mini-program (by openid) or of the H5 channel (by verified phone)."""

    __tablename__ = "account"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    openid: Mapped[str | None] = mapped_column(sa.String(64))
    unionid: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    # The verified phone: encrypted, found by its keyed hash, shown masked.
    phone_cipher: Mapped[str | None] = mapped_column(sa.String(255))
    phone_hash: Mapped[str | None] = mapped_column(sa.CHAR(64))
    phone_masked: Mapped[str | None] = mapped_column(sa.String(16))
    nickname: Mapped[str] = mapped_column(sa.String(32), default="")
    status: Mapped[AccountStatus] = mapped_column(
        StrEnum(AccountStatus, 16), default=AccountStatus.ACTIVE
    )
    # Bumped to revoke every token issued so far (logout, freeze, deletion).
    token_version: Mapped[int] = mapped_column(sa.Integer, default=1)
    # The no-show blacklist: no new bookings before this moment.
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.UniqueConstraint("openid", name="uq_account_openid"),
        sa.UniqueConstraint("phone_hash", name="uq_account_phone_hash"),
    )


class Patient(TimestampMixin, db.Model):
    """就诊人: a person an account books for, with their identity data protected at rest."""

    __tablename__ = "patient"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id", name="fk_patient_account"))
    # The real name and the birth date are sealed: with the birth date in the clear, the masked
    # ID number and its check digit would leave a single candidate for the whole number.
    name: Mapped[str] = mapped_column("name_cipher", Sealed("patient.name"))
    name_hash: Mapped[str | None] = mapped_column(sa.CHAR(64), index=True)
    id_type: Mapped[IdType] = mapped_column(StrEnum(IdType, 40))
    id_number_cipher: Mapped[str | None] = mapped_column(sa.String(255))
    id_number_hash: Mapped[str | None] = mapped_column(sa.CHAR(64))
    id_number_masked: Mapped[str] = mapped_column(sa.String(32))
    sex: Mapped[Sex] = mapped_column(StrEnum(Sex, 8))
    birth_date: Mapped[date] = mapped_column(
        "birth_date_cipher", Sealed("patient.birth_date", date)
    )
    phone_cipher: Mapped[str | None] = mapped_column(sa.String(255))
    phone_hash: Mapped[str | None] = mapped_column(sa.CHAR(64), index=True)
    phone_masked: Mapped[str | None] = mapped_column(sa.String(16))
    relationship: Mapped[Relationship] = mapped_column(StrEnum(Relationship, 16))
    insured: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    medical_card_no: Mapped[str | None] = mapped_column(sa.String(32))
    # 1 while the patient is on the account, NULL once removed: unique keys below then ignore
    # removed patients (MySQL has no partial indexes; NULLs never collide).
    live: Mapped[bool | None] = mapped_column(sa.Boolean, default=True)
    # 1 for the live "self" patient, else NULL: at most one self per account.
    is_self: Mapped[bool | None] = mapped_column(sa.Boolean)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.UniqueConstraint(
            "account_id", "id_number_hash", "live", name="uq_patient_account_id_number"
        ),
        sa.UniqueConstraint("account_id", "is_self", name="uq_patient_account_self"),
    )
