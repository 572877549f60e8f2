"""Hospital staff who use the admin pages, and the audit log of what they changed."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.domain.staff import StaffRole
from app.extensions import db
from app.models.catalogue import TimestampMixin
from app.models.types import BigId, JsonText, StrEnum, UTCDateTime, utcnow


class Staff(TimestampMixin, db.Model):
    """A staff member: role and the hospital, department or doctor the role is scoped to."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64))
    # werkzeug's scrypt hash ("scrypt:32768:8:1$salt$hash").
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[StaffRole] = mapped_column(StrEnum(StaffRole, 24))
    hospital_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("hospital.id", name="fk_staff_hospital")
    )
    department_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("department.id", name="fk_staff_department")
    )
    doctor_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("doctor.id", name="fk_staff_doctor")
    )
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(sa.SmallInteger, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Part of every session's cookie: changed at logout (and at a password change), it voids
    # every cookie issued before.
    session_token: Mapped[str] = mapped_column(sa.String(64))
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (sa.UniqueConstraint("username", name="uq_staff_username"),)


class AuditEntry(db.Model):
    """操作日志: who changed what, when, from what to what."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id", name="fk_audit_staff"))
    # Who, as it read at the time (a CLI user has no staff row).
    actor: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(48))
    target_type: Mapped[str] = mapped_column(sa.String(32))
    target_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    # The hospital the change belongs to, so that each admin reads only their own.
    hospital_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    before: Mapped[dict] = mapped_column(JsonText, default=dict)
    after: Mapped[dict] = mapped_column(JsonText, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.Index("ix_audit_hospital_at", "hospital_id", "at"),
        sa.Index("ix_audit_target", "target_type", "target_id"),
    )
