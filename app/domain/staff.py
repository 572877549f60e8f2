"""Hospital staff: their roles, what each role may see (its scope), and signing-in rules."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
PASSWORD_MIN_LENGTH = 10


class StaffRole(StrEnum):
    """What a staff member is: a platform admin sees everything, the others their own part."""

    PLATFORM_ADMIN = "platform_admin"
    HOSPITAL_ADMIN = "hospital_admin"
    DEPARTMENT_ADMIN = "department_admin"
    DOCTOR = "doctor"

    @property
    def label(self):
        return _ROLE_LABELS[self]


_ROLE_LABELS = {
    StaffRole.PLATFORM_ADMIN: "平台管理员",
    StaffRole.HOSPITAL_ADMIN: "医院管理员",
    StaffRole.DEPARTMENT_ADMIN: "科室管理员",
    StaffRole.DOCTOR: "医生",
}


@dataclass(frozen=True)
class Scope:
    """The rows a staff member may see: everything, or one hospital, department or doctor's."""

    hospital_id: int | None = None
    department_id: int | None = None
    doctor_id: int | None = None

    @property
    def everything(self) -> bool:
        return self.hospital_id is None and self.department_id is None and self.doctor_id is None


class ScopeError(ValueError):
    """A role given the wrong places (a department admin without a department, say)."""


def scope_for(role: StaffRole, hospital_id=None, department_id=None, doctor_id=None) -> Scope:
    """The scope of ``role`` with the places it names; ScopeError unless exactly the places the
    role needs are given (a department's and a doctor's hospital come with them)."""
    role = StaffRole(role)
    needs = {
        StaffRole.PLATFORM_ADMIN: (False, False, False),
        StaffRole.HOSPITAL_ADMIN: (True, False, False),
        StaffRole.DEPARTMENT_ADMIN: (True, True, False),
        StaffRole.DOCTOR: (True, True, True),
    }[role]
    given = (hospital_id is not None, department_id is not None, doctor_id is not None)
    if given != needs:
        raise ScopeError(f"{role.label}须指定：" + _places(needs))
    return Scope(hospital_id, department_id, doctor_id)


def _places(needs) -> str:
    names = [name for name, needed in zip(("医院", "科室", "医生"), needs, strict=True) if needed]
    return "、".join(names) or "无（不属于任何医院）"


def locked_until(failures: int, now: datetime) -> datetime | None:
    """After a failed sign-in that makes ``failures`` in a row: until when the account is
    locked (None: not yet)."""
    return now + LOCKOUT if failures >= MAX_FAILED_LOGINS else None


def password_problem(password: str) -> str | None:
    """Why a password cannot be used, or None."""
    if not isinstance(password, str) or len(password) < PASSWORD_MIN_LENGTH:
        return f"密码至少 {PASSWORD_MIN_LENGTH} 位"
    if password.isdigit() or password.isalpha():
        return "密码须同时包含字母和数字或符号"
    return None
