"""Staff accounts: creating them, signing in (with lock-out), and the session each cookie names."""

import secrets

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from app.domain import clock
from app.domain import staff as rules
from app.errors import AppError, Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.models import Department, Doctor, Hospital, Staff
from app.services import audit
from app.services.transaction import lock_one, transaction

# A password checked for an unknown name costs what a real check does, so that timing does not
# tell which names exist.
_DUMMY_HASH = generate_password_hash("not-a-password-0", method="scrypt")


class LoginRefused(AppError):
    status = 401
    code = "login_failed"
    message = "用户名或密码错误"


class LockedOut(AppError):
    status = 423
    code = "locked_out"
    message = "登录失败次数过多，账号已暂时锁定，请稍后再试"


# The one place each role is given; the places above it come with it.
_OWN_PLACE = {
    rules.StaffRole.PLATFORM_ADMIN: None,
    rules.StaffRole.HOSPITAL_ADMIN: "hospital_id",
    rules.StaffRole.DEPARTMENT_ADMIN: "department_id",
    rules.StaffRole.DOCTOR: "doctor_id",
}


def _scope(role, given: dict) -> rules.Scope:
    """The role's scope from the one place it is given (a doctor's department and hospital
    come with the doctor)."""
    own = _OWN_PLACE[role]
    if {name for name, value in given.items() if value is not None} != ({own} if own else set()):
        try:
            rules.scope_for(role)
        except rules.ScopeError as error:
            message = str(error)
        else:
            message = "平台管理员不属于任何医院、科室或医生"
        raise ValidationFailed.on("role", message)
    hospital_id = given["hospital_id"]
    department_id, doctor_id = given["department_id"], given["doctor_id"]
    if doctor_id is not None:
        doctor = db.session.get(Doctor, doctor_id)
        if doctor is None:
            raise NotFound("未找到该医生")
        department_id = doctor.department_id
    if department_id is not None:
        department = db.session.get(Department, department_id)
        if department is None:
            raise NotFound("未找到该科室")
        hospital_id = department.hospital_id
    if hospital_id is not None and db.session.get(Hospital, hospital_id) is None:
        raise NotFound("未找到该医院")
    return rules.scope_for(role, hospital_id, department_id, doctor_id)


def create_staff(
    username, password, role, hospital_id=None, department_id=None, doctor_id=None, actor="cli"
) -> Staff:
    """A new staff member with a hashed password and the scope of their role: a hospital admin
    is given a hospital, a department admin a department, a doctor a doctor."""
    username = (username or "").strip()
    if not 3 <= len(username) <= 64 or not username.isprintable() or " " in username:
        message = "用户名须为 3–64 个字符，不含空格"
        raise ValidationFailed.on("username", message)
    problem = rules.password_problem(password)
    if problem:
        raise ValidationFailed.on("password", problem)
    try:
        role = rules.StaffRole(role)
    except ValueError:
        raise ValidationFailed({"role": ["未知的角色"]}, message="未知的角色") from None
    given = {"hospital_id": hospital_id, "department_id": department_id, "doctor_id": doctor_id}
    with transaction(on_conflict=lambda error: Conflict("用户名已存在", code="username_taken")):
        scope = _scope(role, given)
        staff = Staff(
            username=username,
            password_hash=generate_password_hash(password, method="scrypt"),
            role=role,
            hospital_id=scope.hospital_id,
            department_id=scope.department_id,
            doctor_id=scope.doctor_id,
            active=True,
            failed_logins=0,
            session_token=secrets.token_hex(16),
        )
        db.session.add(staff)
        db.session.flush()
        audit.record(
            None,
            "create_staff",
            staff,
            after={"username": username, "role": str(role), **given},
            actor=actor,
        )
    return staff


def scope_of(staff: Staff) -> rules.Scope:
    """What a staff member may see: everything for a platform admin, else their place."""
    if staff.role == rules.StaffRole.PLATFORM_ADMIN:
        return rules.Scope()
    return rules.Scope(staff.hospital_id, staff.department_id, staff.doctor_id)


def sign_in(username, password, now=None) -> Staff:
    """The staff member whose name and password these are; 401 otherwise, 423 while locked out
    (MAX_FAILED_LOGINS failures in a row lock the account for LOCKOUT)."""
    now = now or clock.now()
    with transaction():
        staff = lock_one(sa.select(Staff).where(Staff.username == (username or "").strip()))
        if staff is None:
            check_password_hash(_DUMMY_HASH, password or "")
            raise LoginRefused()
        if staff.locked_until is not None and staff.locked_until > now:
            raise LockedOut()
        if not staff.active or not check_password_hash(staff.password_hash, password or ""):
            staff.failed_logins += 1
            staff.locked_until = rules.locked_until(staff.failed_logins, now)
            db.session.commit()
            raise LockedOut() if staff.locked_until else LoginRefused()
        staff.failed_logins = 0
        staff.locked_until = None
        staff.last_login_at = now
    return staff


def session_id(staff: Staff) -> str:
    """What a session cookie names: the staff member and their current session token."""
    return f"{staff.id}:{staff.session_token}"


def from_session(value) -> Staff | None:
    """The active staff member a session cookie names, unless signed out since."""
    staff_id, _, token = str(value or "").partition(":")
    if not staff_id.isdigit() or not token:
        return None
    staff = db.session.get(Staff, int(staff_id))
    if staff is None or not staff.active or not secrets.compare_digest(staff.session_token, token):
        return None
    return staff


def sign_out(staff: Staff):
    """Void every session cookie of the staff member issued so far."""
    with transaction():
        locked = lock_one(sa.select(Staff).where(Staff.id == staff.id))
        locked.session_token = secrets.token_hex(16)
