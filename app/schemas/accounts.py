"""Schemas of sign-in, the account and its patients."""

import marshmallow as ma
from marshmallow import validate

from app.domain import clock
from app.domain.accounts import AccountStatus, Relationship, Sex
from app.domain.identity import IdType, known_age
from app.schemas.common import ChinaDateTime, Text, page_schema

# wx.login codes are 32 characters today; leave room, refuse anything absurd.
_code = Text(required=True, validate=validate.Length(min=1, max=128))

# What app/domain/identity.py accepts, said in the OpenAPI document so that clients know it. The
# server also takes what it can tidy (other spaces, full-width digits); the document gives the
# forms that are always accepted.

# A mainland mobile number: 11 digits from 13–19, +86 or 86 in front, spaces or dashes between.
_MOBILE = r"(\+?86)?[ -]*1[3-9]([ -]*[0-9]){9}"
_PHONE = {
    "pattern": f"^{_MOBILE}$",
    "description": "中国大陆手机号（可带 +86，可含空格或短横线）",
}
# A real name: CJK characters or (accented) Latin letters, full-width ones too, with · or spaces
# between; 2–20 characters once spaces are tidied, neither beginning nor ending with ·.
_LETTER = (
    "\u3400-\u4dbf\u4e00-\u9fff"  # CJK
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"  # Latin, accented too (not × ÷)
    "\uff21-\uff3a\uff41-\uff5a"  # full-width Latin
)
_PERSON_NAME = {
    "pattern": f"^[ \u3000]*[{_LETTER}]([ \u3000\u00b7\u2022]*[{_LETTER}])+[ \u3000]*$",
    "minLength": 2,
    "maxLength": 20,
    "description": "真实姓名：2–20 个汉字或字母，可含间隔号“·”和空格",
}
# Every document type's number is 5–18 letters and digits; which ones, and the check digit and
# birth date of a 居民身份证, depend on id_type (422 invalid_id_number when they do not hold).
_ID_NUMBER = {
    "pattern": "^[0-9A-Za-z]{5,18}$",
    "description": (
        "证件号码，格式随 id_type：居民身份证 18 位（末位可为 X，校验位与出生日期须有效）；"
        "护照 5–17 位字母或数字；港澳居民来往内地通行证 H 或 M 加 8 或 10 位数字；"
        "往来港澳通行证 C 加 8 位字母或数字；台湾居民来往大陆通行证 8 位数字；"
        "外国人永久居留身份证 9 开头 18 位，或 3 位字母加 12 位数字。"
        "不合格式或校验时为 422 invalid_id_number"
    ),
}
_PATIENT_PHONE = {
    "pattern": f"^({_MOBILE})?$",
    "description": "中国大陆手机号（可带 +86，可含空格或短横线）；空串或 null 表示不填",
}


class WeChatLoginSchema(ma.Schema):
    """A wx.login code."""

    code = _code


class PhoneCodeSchema(ma.Schema):
    """A code from the getPhoneNumber button."""

    code = _code


class AccountSchema(ma.Schema):
    """The signed-in account, with its phone masked."""

    id = ma.fields.Integer()
    nickname = ma.fields.String()
    phone_masked = ma.fields.String(allow_none=True)
    has_phone = ma.fields.Function(lambda a: a.phone_hash is not None)
    has_wechat = ma.fields.Function(lambda a: a.openid is not None)
    status = ma.fields.Enum(AccountStatus, by_value=True)
    created_at = ChinaDateTime()


class LoginSchema(ma.Schema):
    """A bearer token: send it as ``Authorization: Bearer <token>``."""

    token = ma.fields.String()
    token_type = ma.fields.Constant("Bearer")
    expires_at = ChinaDateTime()
    created = ma.fields.Boolean(metadata={"description": "true on the first login"})
    account = ma.fields.Nested(AccountSchema)


class AccountUpdateSchema(ma.Schema):
    """What the holder may change."""

    nickname = Text(validate=validate.Length(min=1, max=32))


class PatientInputSchema(ma.Schema):
    """A patient to add. Sex and birth date are read from a 居民身份证 (and checked if typed)."""

    name = Text(required=True, validate=validate.Length(min=1, max=40), metadata=_PERSON_NAME)
    id_type = ma.fields.Enum(IdType, by_value=True, load_default=IdType.RESIDENT_ID)
    id_number = Text(required=True, validate=validate.Length(min=1, max=40), metadata=_ID_NUMBER)
    sex = ma.fields.Enum(
        Sex, by_value=True, metadata={"description": "居民身份证可不填（由号码得出，填写须一致）"}
    )
    birth_date = ma.fields.Date(
        metadata={
            "description": "居民身份证可不填（由号码得出，填写须一致）；其他证件必填，"
            "不晚于今天、不早于1900-01-01"
        }
    )
    phone = Text(allow_none=True, validate=validate.Length(max=20), metadata=_PATIENT_PHONE)
    relationship = ma.fields.Enum(Relationship, by_value=True, required=True)
    insured = ma.fields.Boolean(load_default=False, metadata={"description": "医保"})
    medical_card_no = Text(allow_none=True, validate=validate.Length(max=32))


class PatientUpdateSchema(ma.Schema):
    """What can change on a patient; the document cannot (remove and add again)."""

    name = Text(validate=validate.Length(min=1, max=40), metadata=_PERSON_NAME)
    phone = Text(allow_none=True, validate=validate.Length(max=20), metadata=_PATIENT_PHONE)
    relationship = ma.fields.Enum(Relationship, by_value=True)
    insured = ma.fields.Boolean()
    medical_card_no = Text(allow_none=True, validate=validate.Length(max=32))


class PatientSchema(ma.Schema):
    """A patient as the account holder sees it: ID and phone numbers masked."""

    id = ma.fields.Integer()
    name = ma.fields.String()
    id_type = ma.fields.Enum(IdType, by_value=True)
    id_type_name = ma.fields.Function(lambda p: IdType(p.id_type).label)
    id_number_masked = ma.fields.String()
    sex = ma.fields.Enum(Sex, by_value=True)
    birth_date = ma.fields.Date()
    age = ma.fields.Function(
        lambda p: known_age(p.birth_date, clock.business_date(clock.now())),
        allow_none=True,
        metadata={
            "type": "integer",
            "description": "null：出生日期有误（晚于今天），请删除该就诊人后重新添加",
        },
    )
    phone_masked = ma.fields.String(allow_none=True)
    relationship = ma.fields.Enum(Relationship, by_value=True)
    relationship_name = ma.fields.Function(lambda p: Relationship(p.relationship).label)
    insured = ma.fields.Boolean()
    medical_card_no = ma.fields.String(allow_none=True)
    created_at = ChinaDateTime()


PatientPageSchema = page_schema(PatientSchema, "PatientPage")


class ExportedPatientSchema(ma.Schema):
    """A patient in the data export, numbers in full."""

    id = ma.fields.Integer()
    name = ma.fields.String()
    id_type = ma.fields.Enum(IdType, by_value=True)
    id_number = ma.fields.String(allow_none=True)
    sex = ma.fields.Enum(Sex, by_value=True)
    birth_date = ma.fields.Date()
    phone = ma.fields.String(allow_none=True)
    relationship = ma.fields.Enum(Relationship, by_value=True)
    insured = ma.fields.Boolean()
    medical_card_no = ma.fields.String(allow_none=True)
    removed = ma.fields.Boolean()
    created_at = ChinaDateTime()


class ExportedAccountSchema(ma.Schema):
    """The account in the data export."""

    id = ma.fields.Integer()
    openid = ma.fields.String(allow_none=True)
    unionid = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    nickname = ma.fields.String()
    status = ma.fields.Enum(AccountStatus, by_value=True)
    created_at = ChinaDateTime()


class ExportSchema(ma.Schema):
    """Everything kept about the account holder (个人信息查阅/复制)."""

    exported_at = ChinaDateTime()
    account = ma.fields.Nested(ExportedAccountSchema)
    patients = ma.fields.List(ma.fields.Nested(ExportedPatientSchema))


class SmsSendSchema(ma.Schema):
    """A mainland mobile number to text a login code to."""

    phone = Text(required=True, validate=validate.Length(min=1, max=20), metadata=_PHONE)


class SmsSentSchema(ma.Schema):
    """The code was sent: it lives ``expires_in`` seconds; ask again after ``retry_after``."""

    expires_in = ma.fields.Integer()
    retry_after = ma.fields.Integer()


class SmsLoginSchema(ma.Schema):
    """The phone and the 6-digit code texted to it."""

    phone = Text(required=True, validate=validate.Length(min=1, max=20), metadata=_PHONE)
    code = ma.fields.String(required=True, validate=validate.Regexp(r"^[0-9]{6}$"))
