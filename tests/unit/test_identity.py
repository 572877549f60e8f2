from datetime import date, timedelta

import pytest

from app.domain.identity import (
    FEMALE,
    MALE,
    IdentityInfo,
    IdType,
    InvalidBirthDate,
    InvalidIdNumber,
    InvalidName,
    InvalidPhone,
    age_on,
    check_birth_date,
    check_declared,
    known_age,
    mask_id_number,
    mask_name,
    mask_phone,
    validate_id_number,
    validate_mobile,
    validate_person_name,
)

TODAY = date(2024, 6, 1)


def check_char(first17):
    """ISO 7064 MOD 11-2, written from the standard's formula rather than the module's table."""
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def resident_id(region="110105", birth="19900307", seq="451"):
    first17 = region + birth + seq
    return first17 + check_char(first17)


def with_check_char_ending(last):
    for n in range(1000):
        number = resident_id(seq=f"{n:03d}")
        if number.endswith(last):
            return number
    raise AssertionError(f"no sequence gives check char {last}")


def reason_of(id_type, raw):
    with pytest.raises(InvalidIdNumber) as caught:
        validate_id_number(id_type, raw, today=TODAY)
    return caught.value.reason


# Resident ID


def test_public_sample_number_is_valid_and_matches_the_independent_checksum():
    assert check_char("11010519491231002") == "X"
    info = validate_id_number(IdType.RESIDENT_ID, "11010519491231002X", today=TODAY)
    assert info == IdentityInfo(
        IdType.RESIDENT_ID, "11010519491231002X", FEMALE, date(1949, 12, 31)
    )


def test_computed_numbers_are_valid():
    for region in ("110105", "310101", "440305", "820000"):
        number = resident_id(region=region)
        info = validate_id_number("resident_id", number, today=TODAY)
        assert info.number == number
        assert info.birth_date == date(1990, 3, 7)


def test_number_ending_in_x_is_valid_and_lower_case_x_is_normalized():
    number = with_check_char_ending("X")
    assert validate_id_number(IdType.RESIDENT_ID, number, today=TODAY).number == number
    lower = number[:-1] + "x"
    assert validate_id_number(IdType.RESIDENT_ID, lower, today=TODAY).number == number


def test_sex_is_read_from_the_seventeenth_digit():
    male = validate_id_number(IdType.RESIDENT_ID, resident_id(seq="013"), today=TODAY)
    female = validate_id_number(IdType.RESIDENT_ID, resident_id(seq="024"), today=TODAY)
    assert (male.sex, female.sex) == (MALE, FEMALE)


def test_wrong_check_digit_is_refused():
    number = resident_id()
    wrong = "0" if number[-1] != "0" else "1"
    with pytest.raises(InvalidIdNumber) as caught:
        validate_id_number(IdType.RESIDENT_ID, number[:-1] + wrong, today=TODAY)
    assert caught.value.reason == "checksum"
    assert str(caught.value) == "身份证号码校验位错误"


@pytest.mark.parametrize("birth", ["19900230", "19901301", "19900000", "20991231", "18991231"])
def test_impossible_future_or_too_early_birth_dates_are_refused(birth):
    assert reason_of(IdType.RESIDENT_ID, resident_id(birth=birth)) == "birth_date"


def test_birth_today_is_accepted_and_tomorrow_is_not():
    info = validate_id_number(IdType.RESIDENT_ID, resident_id(birth="20240601"), today=TODAY)
    assert info.birth_date == TODAY
    assert reason_of(IdType.RESIDENT_ID, resident_id(birth="20240602")) == "birth_date"


@pytest.mark.parametrize("region", ["010105", "910105"])
def test_province_digit_zero_or_nine_is_refused(region):
    assert reason_of(IdType.RESIDENT_ID, resident_id(region=region)) == "region"


@pytest.mark.parametrize(
    "raw",
    [
        resident_id()[:17],
        resident_id() + "1",
        resident_id()[:10] + "A" + resident_id()[11:],
        "X" + resident_id()[1:],
        "",
        "   ",
    ],
)
def test_malformed_resident_numbers_are_refused(raw):
    assert reason_of(IdType.RESIDENT_ID, raw) == "format"


def test_full_width_digits_and_spaces_are_normalized():
    number = "11010519491231002X"
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in number)
    assert full_width != number
    info = validate_id_number(IdType.RESIDENT_ID, f" {full_width[:6]}\u3000{full_width[6:]} ")
    assert info.number == number
    spaced = validate_id_number(IdType.RESIDENT_ID, "110105 19491231 002x", today=TODAY)
    assert spaced.number == number


def test_unknown_id_type_is_refused():
    assert reason_of("driving_licence", "123456") == "id_type"


# Declared sex and birth date


def test_declared_values_that_agree_pass():
    info = validate_id_number(IdType.RESIDENT_ID, "11010519491231002X", today=TODAY)
    check_declared(info, sex="female", birth_date=date(1949, 12, 31))
    check_declared(info)


def test_declared_sex_that_disagrees_is_refused():
    info = validate_id_number(IdType.RESIDENT_ID, "11010519491231002X", today=TODAY)
    with pytest.raises(InvalidIdNumber) as caught:
        check_declared(info, sex=MALE)
    assert caught.value.reason == "mismatch_sex"


def test_declared_birth_date_that_disagrees_is_refused():
    info = validate_id_number(IdType.RESIDENT_ID, "11010519491231002X", today=TODAY)
    with pytest.raises(InvalidIdNumber) as caught:
        check_declared(info, sex=FEMALE, birth_date=date(1949, 12, 30))
    assert caught.value.reason == "mismatch_birth_date"


@pytest.mark.parametrize("birth_date", [TODAY, date(1900, 1, 1), date(1990, 3, 7)])
def test_a_declared_birth_date_from_1900_to_today_passes(birth_date):
    check_birth_date(birth_date, TODAY)


@pytest.mark.parametrize("birth_date", [TODAY + timedelta(days=1), date(1899, 12, 31)])
def test_a_declared_birth_date_after_today_or_before_1900_is_refused(birth_date):
    with pytest.raises(InvalidBirthDate) as caught:
        check_birth_date(birth_date, TODAY)
    assert caught.value.reason == "birth_date"


def test_declared_values_are_free_when_the_document_tells_nothing():
    info = validate_id_number(IdType.PASSPORT, "E12345678")
    assert (info.sex, info.birth_date) == (None, None)
    check_declared(info, sex=MALE, birth_date=date(2000, 1, 1))


# Other documents


@pytest.mark.parametrize(
    ("id_type", "raw", "number"),
    [
        (IdType.PASSPORT, "e1234 5678", "E12345678"),
        (IdType.PASSPORT, "G1234", "G1234"),
        (IdType.PASSPORT, "AB1234567890CDEFG", "AB1234567890CDEFG"),
        (IdType.HK_MACAU_PERMIT, "H12345678", "H12345678"),
        (IdType.HK_MACAU_PERMIT, "m1234567890", "M1234567890"),
        (IdType.MAINLAND_TRAVEL_PERMIT_HK_MACAU, "C12345678", "C12345678"),
        (IdType.MAINLAND_TRAVEL_PERMIT_HK_MACAU, "ca1234567", "CA1234567"),
        (IdType.TAIWAN_PERMIT, "12345678", "12345678"),
        (IdType.FOREIGN_PERMANENT_RESIDENT, "usa110085010101", "USA110085010101"),
    ],
)
def test_other_documents_valid(id_type, raw, number):
    info = validate_id_number(id_type, raw, today=TODAY)
    assert (info.id_type, info.number, info.sex, info.birth_date) == (id_type, number, None, None)


@pytest.mark.parametrize(
    ("id_type", "raw"),
    [
        (IdType.PASSPORT, "E123"),
        (IdType.PASSPORT, "AB1234567890CDEFGH"),
        (IdType.PASSPORT, "E1234-5678"),
        (IdType.HK_MACAU_PERMIT, "H1234567"),
        (IdType.HK_MACAU_PERMIT, "H123456789"),
        (IdType.HK_MACAU_PERMIT, "K12345678"),
        (IdType.MAINLAND_TRAVEL_PERMIT_HK_MACAU, "C1234567"),
        (IdType.MAINLAND_TRAVEL_PERMIT_HK_MACAU, "CAB123456"),
        (IdType.MAINLAND_TRAVEL_PERMIT_HK_MACAU, "D12345678"),
        (IdType.TAIWAN_PERMIT, "1234567"),
        (IdType.TAIWAN_PERMIT, "1234567A"),
        (IdType.FOREIGN_PERMANENT_RESIDENT, "US1100850101011"),
        (IdType.FOREIGN_PERMANENT_RESIDENT, "81234567890123456X"),
        (IdType.FOREIGN_PERMANENT_RESIDENT, "9123456789012345"),
    ],
)
def test_other_documents_malformed(id_type, raw):
    assert reason_of(id_type, raw) == "format"


def test_foreign_permanent_resident_new_form_uses_the_resident_checksum():
    first17 = "93115619900307123"
    number = first17 + check_char(first17)
    info = validate_id_number(IdType.FOREIGN_PERMANENT_RESIDENT, number, today=TODAY)
    assert info.number == number
    wrong = "0" if number[-1] != "0" else "1"
    assert reason_of(IdType.FOREIGN_PERMANENT_RESIDENT, first17 + wrong) == "checksum"


def test_id_types_have_chinese_labels_and_stable_values():
    assert IdType("resident_id").label == "居民身份证"
    assert IdType.PASSPORT.label == "护照"
    assert IdType.HK_MACAU_PERMIT.label == "港澳居民来往内地通行证"
    assert all(id_type.label for id_type in IdType)
    assert {t.value for t in IdType} == {
        "resident_id",
        "passport",
        "hk_macau_permit",
        "mainland_travel_permit_hk_macau",
        "taiwan_permit",
        "foreign_permanent_resident",
    }


# Age


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        (date(1990, 3, 7), date(2024, 3, 6), 33),
        (date(1990, 3, 7), date(2024, 3, 7), 34),
        (date(2012, 2, 29), date(2013, 2, 28), 0),
        (date(2012, 2, 29), date(2013, 3, 1), 1),
        (date(2012, 2, 29), date(2016, 2, 28), 3),
        (date(2012, 2, 29), date(2016, 2, 29), 4),
        (date(2024, 6, 1), date(2024, 6, 1), 0),
    ],
)
def test_age_on(birth, on, age):
    assert age_on(birth, on) == age


def test_a_known_age_is_the_age_today_or_none_for_a_birth_after_today():
    assert known_age(date(2020, 6, 1), TODAY) == 4
    assert known_age(TODAY, TODAY) == 0
    assert known_age(TODAY + timedelta(days=1), TODAY) is None


def test_age_before_birth_is_an_error():
    with pytest.raises(ValueError):
        age_on(date(2024, 6, 2), date(2024, 6, 1))


# Masking


def test_mask_id_number():
    assert mask_id_number("110101199003074518") == "1*************4518"
    assert mask_id_number("11010519491231002X") == "1*************002X"
    assert mask_id_number("E12345678") == "E1*****78"
    assert mask_id_number("H12345678").count("*") > len("H12345678") // 2
    assert mask_id_number("G1234") == "G***4"
    assert len(mask_id_number("AB1234567890CDEFG")) == 17


def test_mask_phone():
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone("010-12345678") == "01********78"
    assert mask_phone("123") == "***"


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("李明华", "李*华"),
        ("欧阳娜娜", "欧**娜"),
        ("买买提·艾力", "买****力"),
        ("John Smith", "J*** S****"),
        ("José María", "J*** M****"),
    ],
)
def test_mask_name(name, masked):
    assert mask_name(name) == masked


# Mobile numbers


@pytest.mark.parametrize(
    "raw",
    ["13812345678", "+86 138 1234 5678", "+86-138-1234-5678", "8613812345678", "138-1234-5678"],
)
def test_mobile_forms_are_accepted(raw):
    assert validate_mobile(raw) == "13812345678"


def test_mobile_full_width_digits_are_accepted():
    assert validate_mobile("１９９１２３４５６７８") == "19912345678"


@pytest.mark.parametrize(
    "raw",
    [
        "12812345678",
        "10012345678",
        "23812345678",
        "1381234567",
        "138123456789",
        "+1 13812345678",
        "138a2345678",
        "",
    ],
)
def test_bad_mobiles_are_refused(raw):
    with pytest.raises(InvalidPhone) as caught:
        validate_mobile(raw)
    assert caught.value.reason == "format"
    assert "手机号码" in caught.value.message


# Names


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("  张三 ", "张三"),
        ("买买提·艾力", "买买提·艾力"),
        ("阿依古丽•买买提", "阿依古丽•买买提"),
        ("John   Smith", "John Smith"),
        ("㐀丽", "㐀丽"),
        ("李" * 20, "李" * 20),
    ],
)
def test_valid_names(raw, name):
    assert validate_person_name(raw) == name


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("李" * 21, "length"),
        ("张", "length"),
        ("   ", "length"),
        ("张三😀", "characters"),
        ("张三2", "characters"),
        ("张三!", "characters"),
        ("·艾力", "format"),
        ("买买提·", "format"),
    ],
)
def test_invalid_names(raw, reason):
    with pytest.raises(InvalidName) as caught:
        validate_person_name(raw)
    assert caught.value.reason == reason
    assert "姓名" in str(caught.value)


def test_identity_errors_are_value_errors():
    assert issubclass(InvalidIdNumber, ValueError)
    assert issubclass(InvalidPhone, ValueError)
    assert issubclass(InvalidName, ValueError)
