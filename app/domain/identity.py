"""Who a patient is: ID documents and their numbers, mobile numbers, real names, and masking."""

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

MALE = "male"
FEMALE = "female"


class IdType(StrEnum):
    """证件类型: the kind of document a patient's ID number comes from."""

    RESIDENT_ID = "resident_id"
    PASSPORT = "passport"
    HK_MACAU_PERMIT = "hk_macau_permit"
    MAINLAND_TRAVEL_PERMIT_HK_MACAU = "mainland_travel_permit_hk_macau"
    TAIWAN_PERMIT = "taiwan_permit"
    FOREIGN_PERMANENT_RESIDENT = "foreign_permanent_resident"

    @property
    def label(self):
        return _ID_TYPE_LABELS[self]


_ID_TYPE_LABELS = {
    IdType.RESIDENT_ID: "居民身份证",
    IdType.PASSPORT: "护照",
    IdType.HK_MACAU_PERMIT: "港澳居民来往内地通行证",
    IdType.MAINLAND_TRAVEL_PERMIT_HK_MACAU: "往来港澳通行证",
    IdType.TAIWAN_PERMIT: "台湾居民来往大陆通行证",
    IdType.FOREIGN_PERMANENT_RESIDENT: "外国人永久居留身份证",
}

DEFAULT_ID_TYPE = IdType.RESIDENT_ID


class IdentityError(ValueError):
    """A patient's identity data that cannot be accepted, with a stable reason and a message."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class InvalidIdNumber(IdentityError):
    """An ID number that is malformed, fails its check digit, or contradicts a declared value."""


class InvalidPhone(IdentityError):
    """A mobile number that is not a mainland mobile."""


class InvalidName(IdentityError):
    """A real name that cannot be on an ID document."""


class InvalidBirthDate(IdentityError):
    """A declared birth date no patient can have: after today, or before 1900."""


@dataclass(frozen=True)
class IdentityInfo:
    """A validated ID number, normalized, with what the document tells of its holder."""

    id_type: IdType
    number: str
    sex: str | None = None
    birth_date: date | None = None


# Full-width ASCII (U+FF01..U+FF5E) sits exactly 0xFEE0 above its half-width twin; Chinese input
# methods produce it when the patient forgets to switch modes.
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_HALF_WIDTH[0x3000] = 0x20


def _to_half_width(text: str) -> str:
    return text.translate(_HALF_WIDTH)


def normalize_id_number(raw: str) -> str:
    """An ID number as stored: half-width, upper-case, without any spaces."""
    return "".join(_to_half_width(raw).split()).upper()


_RESIDENT_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_EARLIEST_BIRTH = date(1900, 1, 1)

_RESIDENT_RE = re.compile(r"\d{17}[\dX]")
_PATTERNS = {
    IdType.PASSPORT: re.compile(r"[A-Z0-9]{5,17}"),
    IdType.HK_MACAU_PERMIT: re.compile(r"[HM]\d{8}(?:\d{2})?"),
    IdType.MAINLAND_TRAVEL_PERMIT_HK_MACAU: re.compile(r"C[A-Z0-9]\d{7}"),
    IdType.TAIWAN_PERMIT: re.compile(r"\d{8}"),
}
_FOREIGN_NEW_RE = re.compile(r"9\d{16}[\dX]")
_FOREIGN_OLD_RE = re.compile(r"[A-Z]{3}\d{12}")

_FORMAT_MESSAGES = {
    IdType.RESIDENT_ID: "身份证号码应为18位，前17位为数字，最后一位为数字或X",
    IdType.PASSPORT: "护照号码应为5至17位字母或数字",
    IdType.HK_MACAU_PERMIT: "港澳居民来往内地通行证号码应为H或M加8位或10位数字",
    IdType.MAINLAND_TRAVEL_PERMIT_HK_MACAU: "往来港澳通行证号码应为C加8位字母或数字",
    IdType.TAIWAN_PERMIT: "台湾居民来往大陆通行证号码应为8位数字",
    IdType.FOREIGN_PERMANENT_RESIDENT: "外国人永久居留身份证号码应为9开头的18位或3位字母加12位数字",
}


def resident_check_char(first17: str) -> str:
    """The GB 11643-1999 (ISO 7064 MOD 11-2) check character for 17 leading digits."""
    total = sum(
        int(digit) * weight for digit, weight in zip(first17, _RESIDENT_WEIGHTS, strict=True)
    )
    return _CHECK_CHARS[total % 11]


def validate_id_number(id_type: IdType | str, raw: str, today: date | None = None) -> IdentityInfo:
    """Check an ID number of the given type and tell what it says of its holder."""
    try:
        id_type = IdType(id_type)
    except ValueError:
        raise InvalidIdNumber("id_type", "不支持的证件类型") from None
    if not isinstance(raw, str):
        raise InvalidIdNumber("format", "请填写证件号码")
    number = normalize_id_number(raw)
    if not number:
        raise InvalidIdNumber("format", "请填写证件号码")
    if id_type == IdType.RESIDENT_ID:
        return _validate_resident(number, today or date.today())
    if id_type == IdType.FOREIGN_PERMANENT_RESIDENT:
        return _validate_foreign_permanent_resident(number)
    if not _PATTERNS[id_type].fullmatch(number):
        raise InvalidIdNumber("format", _FORMAT_MESSAGES[id_type])
    return IdentityInfo(id_type, number)


def _validate_resident(number: str, today: date) -> IdentityInfo:
    if not _RESIDENT_RE.fullmatch(number):
        raise InvalidIdNumber("format", _FORMAT_MESSAGES[IdType.RESIDENT_ID])
    # Province codes run 11..82; 9 is reserved for foreigners' permanent residence cards.
    if number[0] not in "12345678":
        raise InvalidIdNumber("region", "身份证号码地区码无效")
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidIdNumber("birth_date", "身份证号码中的出生日期无效") from None
    if not _possible_birth(birth, today):
        raise InvalidIdNumber("birth_date", "身份证号码中的出生日期无效")
    if resident_check_char(number[:17]) != number[17]:
        raise InvalidIdNumber("checksum", "身份证号码校验位错误")
    sex = MALE if int(number[16]) % 2 else FEMALE
    return IdentityInfo(IdType.RESIDENT_ID, number, sex, birth)


def _validate_foreign_permanent_resident(number: str) -> IdentityInfo:
    id_type = IdType.FOREIGN_PERMANENT_RESIDENT
    if _FOREIGN_OLD_RE.fullmatch(number):
        return IdentityInfo(id_type, number)
    if not _FOREIGN_NEW_RE.fullmatch(number):
        raise InvalidIdNumber("format", _FORMAT_MESSAGES[id_type])
    # The 2023 card uses the resident ID's MOD 11-2 check digit; its other fields are not read
    # here, so that a layout we have not verified never rejects a real card.
    if resident_check_char(number[:17]) != number[17]:
        raise InvalidIdNumber("checksum", "外国人永久居留身份证号码校验位错误")
    return IdentityInfo(id_type, number)


def check_declared(
    info: IdentityInfo, sex: str | None = None, birth_date: date | None = None
) -> None:
    """Refuse a declared sex or birth date that the ID document contradicts."""
    if sex is not None and info.sex is not None and sex != info.sex:
        raise InvalidIdNumber("mismatch_sex", "填写的性别与证件号码不符")
    if birth_date is not None and info.birth_date is not None and birth_date != info.birth_date:
        raise InvalidIdNumber("mismatch_birth_date", "填写的出生日期与证件号码不符")


def check_birth_date(birth_date: date, today: date) -> None:
    """Refuse a declared birth date (of a document that tells none) after today or before 1900."""
    if not _possible_birth(birth_date, today):
        raise InvalidBirthDate("birth_date", "出生日期无效：不能晚于今天或早于1900年")


def _possible_birth(birth_date: date, today: date) -> bool:
    return _EARLIEST_BIRTH <= birth_date <= today


def known_age(birth_date: date, today: date) -> int | None:
    """Age today; None for a birth date after today, which is refused when typed but stored data
    may hold (the patient is deleted and added again to correct it)."""
    return age_on(birth_date, today) if birth_date <= today else None


def age_on(birth_date: date, on_date: date) -> int:
    """Age in whole years on ``on_date``; someone born on 29 February ages on 1 March."""
    if on_date < birth_date:
        raise ValueError("on_date is before birth_date")
    before_birthday = (on_date.month, on_date.day) < (birth_date.month, birth_date.day)
    return on_date.year - birth_date.year - before_birthday


def _mask_middle(text: str, keep_head: int, keep_tail: int) -> str:
    hidden = len(text) - keep_head - keep_tail
    if hidden <= 0:
        return "*" * len(text)
    return text[:keep_head] + "*" * hidden + text[len(text) - keep_tail :]


def mask_id_number(number: str) -> str:
    """An ID number as responses and logs show it and as it is stored, same length.

    18-character documents keep the first 1 and last 4 (1*************4518): with the first 3, a
    birth date narrowed by the clinic's age rules and the check digit would leave few enough
    candidates for the whole number to be tried. Shorter ones such as passports keep 2 and 2
    (E1*****78), very short ones 1 and 1.
    """
    if len(number) >= 15:
        return _mask_middle(number, 1, 4)
    if len(number) >= 8:
        return _mask_middle(number, 2, 2)
    return _mask_middle(number, 1, 1)


_MOBILE_RE = re.compile(r"1[3-9]\d{9}")


def mask_phone(phone: str) -> str:
    """A phone number as shown: 138****1234 for a mobile, else first 2 and last 2 kept."""
    if _MOBILE_RE.fullmatch(phone):
        return _mask_middle(phone, 3, 4)
    return _mask_middle(phone, 2, 2)


_CJK = "\u3400-\u4dbf\u4e00-\u9fff"
_HAS_CJK_RE = re.compile(f"[{_CJK}]")
_LETTER_AFTER_LETTER_RE = re.compile(r"(?<=[^\W\d_])[^\W\d_]")


def mask_name(name: str) -> str:
    """A real name as shown: 张*, 李*华, 欧**娜; Latin names keep each word's first letter."""
    if _HAS_CJK_RE.search(name):
        return _mask_middle(name, 1, 1 if len(name) >= 3 else 0)
    return _LETTER_AFTER_LETTER_RE.sub("*", name)


def validate_mobile(raw: str) -> str:
    """A mainland mobile number as its bare 11 digits; +86/86 prefixes, spaces, dashes allowed."""
    if not isinstance(raw, str):
        raise InvalidPhone("format", "请填写手机号码")
    cleaned = re.sub(r"[\s-]", "", _to_half_width(raw))
    if cleaned.startswith("+86"):
        cleaned = cleaned[3:]
    elif cleaned.startswith("86") and len(cleaned) == 13:
        cleaned = cleaned[2:]
    if not _MOBILE_RE.fullmatch(cleaned):
        raise InvalidPhone("format", "请填写正确的11位手机号码")
    return cleaned


_NAME_MIN, _NAME_MAX = 2, 20
# Latin letters include the accented ones of Latin-1 and Latin Extended-A/B (José, Müller),
# less × and ÷ which sit among them.
_NAME_CHARS_RE = re.compile(f"[{_CJK}A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u00b7\u2022 ]+")
_NAME_DOTS = "\u00b7\u2022"


def validate_person_name(raw: str) -> str:
    """A real name, trimmed with inner spaces collapsed: 2–20 CJK or Latin letters, · and spaces."""
    if not isinstance(raw, str):
        raise InvalidName("length", "请填写姓名")
    name = " ".join(_to_half_width(raw).split())
    if not name:
        raise InvalidName("length", "请填写姓名")
    if not _NAME_MIN <= len(name) <= _NAME_MAX:
        raise InvalidName("length", f"姓名应为{_NAME_MIN}至{_NAME_MAX}个字符")
    if not _NAME_CHARS_RE.fullmatch(name):
        raise InvalidName("characters", "姓名只能包含汉字、字母、间隔号“·”和空格")
    if name[0] in _NAME_DOTS or name[-1] in _NAME_DOTS:
        raise InvalidName("format", "间隔号“·”不能出现在姓名的开头或结尾")
    return name
