"""Managing the patients (就诊人) an account books for."""

import sqlalchemy as sa
from flask import current_app

from app.domain import clock
from app.domain.accounts import Relationship, Sex
from app.domain.identity import (
    IdentityError,
    IdType,
    InvalidIdNumber,
    check_birth_date,
    check_declared,
    mask_id_number,
    mask_phone,
    validate_id_number,
    validate_mobile,
    validate_person_name,
)
from app.errors import AppError, Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.infra.packedsql import PackedSelect
from app.models import Account, Order, Patient
from app.services import protection
from app.services.pagination import Page, packed_page
from app.services.transaction import transaction


class InvalidIdentity(AppError):
    status = 422
    code = "invalid_id_number"
    message = "证件号码有误"


def _live_of(account_id) -> tuple:
    """The account's patients still on it (``account_id`` a value or a bind parameter)."""
    return Patient.account_id == account_id, Patient.live.is_(True)


def _live(account_id):
    return sa.select(Patient).where(*_live_of(account_id))


# A page of an account's patients: what PatientSchema shows, one narrow row packed per patient
# (as a page of orders is read, app/services/booking/queries.py).
_LIVE = _live_of(sa.bindparam("account_id"))
_PAGE = PackedSelect(
    sa.select(
        Patient.id,
        Patient.name.label("name"),
        Patient.id_type,
        Patient.id_number_masked,
        Patient.sex,
        Patient.birth_date.label("birth_date"),
        Patient.phone_masked,
        Patient.relationship,
        Patient.insured,
        Patient.medical_card_no,
        Patient.created_at,
    )
    .where(*_LIVE)
    .order_by(Patient.id)
    .limit(sa.bindparam("limit"))
    .offset(sa.bindparam("offset"))
)
_COUNT = sa.select(sa.func.count()).select_from(Patient).where(*_LIVE)


def list_patients(account_id, page=1, per_page=20) -> Page:
    """The account's patients, oldest first."""
    rows, total = packed_page(_PAGE, _COUNT, {"account_id": account_id}, page, per_page)
    return Page(items=rows, page=page, per_page=per_page, total=total)


def get_patient(account_id, patient_id) -> Patient:
    """One of the account's patients; another account's is not_found, never forbidden."""
    patient = db.session.scalar(_live(account_id).where(Patient.id == patient_id))
    if patient is None:
        raise NotFound("未找到该就诊人")
    return patient


def _field_error(field, error: IdentityError):
    if isinstance(error, InvalidIdNumber):
        return InvalidIdentity(error.message, reason=error.reason, errors={field: [error.message]})
    return ValidationFailed.on(field, error.message)


def _identity(data):
    """Validate the document, and the sex and birth date typed, against each other."""
    id_type = IdType(data.get("id_type") or IdType.RESIDENT_ID)
    today = clock.business_date(clock.now())
    try:
        info = validate_id_number(id_type, data["id_number"], today=today)
    except IdentityError as error:
        raise _field_error("id_number", error) from None
    try:
        check_declared(info, sex=data.get("sex"), birth_date=data.get("birth_date"))
    except IdentityError as error:
        field = "sex" if error.reason == "mismatch_sex" else "birth_date"
        raise _field_error(field, error) from None
    sex = info.sex or data.get("sex")
    birth_date = info.birth_date or data.get("birth_date")
    missing = {
        field: ["该证件类型需填写此项"]
        for field, value in (("sex", sex), ("birth_date", birth_date))
        if value is None
    }
    if missing:
        raise ValidationFailed(missing)
    if info.birth_date is None:  # typed: the document's own was checked with it
        try:
            check_birth_date(birth_date, today)
        except IdentityError as error:
            raise _field_error("birth_date", error) from None
    return info, sex, birth_date


def _clean(field, validate, value):
    try:
        return validate(value)
    except IdentityError as error:
        raise _field_error(field, error) from None


def _duplicate():
    return Conflict("该就诊人已添加，请勿重复添加", code="duplicate_patient")


def _self_exists():
    return Conflict("已添加过“本人”，不能重复添加", code="self_exists")


def _conflict(error):
    """The unique key that refused a write, as the patient should hear it."""
    return _self_exists() if "uq_patient_account_self" in str(error.orig) else _duplicate()


def add_patient(account_id, data) -> Patient:
    """Add a patient to the account after checking the document, the limit and duplicates."""
    with transaction(on_conflict=_conflict):
        # The account row is the lock that serialises adds: the limit counts live patients.
        db.session.execute(sa.select(Account.id).where(Account.id == account_id).with_for_update())
        name = _clean("name", validate_person_name, data["name"])
        info, sex, birth_date = _identity(data)
        relationship = Relationship(data["relationship"])
        # A locking read: it sees every patient committed while we waited for the lock, whatever
        # the isolation level.
        live = db.session.scalars(_live(account_id).with_for_update()).all()
        limit = current_app.config["MAX_PATIENTS_PER_ACCOUNT"]
        if len(live) >= limit:
            raise Conflict(f"每个账号最多添加 {limit} 位就诊人", code="patient_limit")
        id_hash = protection.lookup_hash(f"{info.id_type}:{info.number}", "id_number")
        if any(p.id_number_hash == id_hash for p in live):
            raise _duplicate()
        if relationship == Relationship.SELF and any(p.is_self for p in live):
            raise _self_exists()
        patient = Patient(
            account_id=account_id,
            id_type=info.id_type,
            id_number_cipher=protection.seal(info.number, "patient.id_number"),
            id_number_hash=id_hash,
            id_number_masked=mask_id_number(info.number),
            sex=Sex(sex),
            birth_date=birth_date,
            relationship=relationship,
            is_self=True if relationship == Relationship.SELF else None,
            insured=data.get("insured", False),
            medical_card_no=data.get("medical_card_no") or None,
            live=True,
        )
        _set_name(patient, name)
        _set_phone(patient, data.get("phone"))
        db.session.add(patient)
    return patient


def _set_name(patient, name):
    patient.name = name
    patient.name_hash = protection.name_hash(name)


def _set_phone(patient, phone):
    if not phone:
        patient.phone_cipher = patient.phone_hash = patient.phone_masked = None
        return
    phone = _clean("phone", validate_mobile, phone)
    patient.phone_cipher = protection.seal(phone, "patient.phone")
    patient.phone_hash = protection.lookup_hash(phone, "phone")
    patient.phone_masked = mask_phone(phone)


def update_patient(account_id, patient_id, changes) -> Patient:
    """Change a patient's name, phone, relationship, insurance or medical card number."""
    with transaction(on_conflict=_conflict):
        patient = get_patient(account_id, patient_id)
        if "name" in changes:
            _set_name(patient, _clean("name", validate_person_name, changes["name"]))
        if "phone" in changes:
            _set_phone(patient, changes["phone"])
        if "relationship" in changes:
            patient.relationship = Relationship(changes["relationship"])
            patient.is_self = True if patient.relationship == Relationship.SELF else None
        if "insured" in changes:
            patient.insured = changes["insured"]
        if "medical_card_no" in changes:
            patient.medical_card_no = changes["medical_card_no"] or None
    return patient


def remove_patient(account_id, patient_id):
    """Take a patient off the account; the row stays for the orders that name it."""
    with transaction():
        patient = get_patient(account_id, patient_id)
        active = sa.select(Order.id).where(Order.patient_id == patient.id, Order.active.is_(True))
        if db.session.scalar(active.limit(1)) is not None:
            raise Conflict(
                "该就诊人有未完成的挂号，请先取消或就诊后再删除", code="patient_has_active_orders"
            )
        patient.live = None
        patient.is_self = None
        patient.deleted_at = clock.now()


def reveal(patient: Patient) -> dict:
    """The patient's full ID and phone numbers, for the owner's data export."""
    return {
        "id_number": protection.unseal(patient.id_number_cipher, "patient.id_number")
        if patient.id_number_cipher
        else None,
        "phone": protection.unseal(patient.phone_cipher, "patient.phone")
        if patient.phone_cipher
        else None,
    }
