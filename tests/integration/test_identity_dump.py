"""An attacker with a dump of the patient table and nothing else (no keys) tries to rebuild each
resident ID number: every 18-character number consistent with every column in the clear and the
check digit is a candidate. Too few candidates and each can be tried (e.g. against a real-name
check), so each resident ID must leave at least MIN_CANDIDATES."""

from collections import Counter
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.domain.identity import IdType
from app.services import patients
from tests.factories import make_account, resident_id

MIN_CANDIDATES = 10_000
TODAY = date(2026, 12, 3)

# Columns in the clear that tell nothing of the number, and those the attacker reads. A new
# column in the clear must be placed here, with what it tells: the test fails until it is.
UNRELATED = {
    "id",
    "account_id",
    "id_type",
    "phone_masked",
    "relationship",
    "insured",
    "medical_card_no",
    "live",
    "is_self",
    "deleted_at",
    "created_at",
    "updated_at",
}
READ = {"id_number_masked", "sex", "birth_date"}

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_BIRTH = slice(6, 14)
_EVERY_BIRTH_DATE = [
    (date(1900, 1, 1) + timedelta(days=n)).strftime("%Y%m%d")
    for n in range((TODAY - date(1900, 1, 1)).days + 1)
]


def _weighted(counts: Counter, position: int, digits) -> Counter:
    """``counts`` of partial sums mod 11, extended by one position's possible digits."""
    result = Counter()
    for residue, count in counts.items():
        for digit in digits:
            result[(residue + digit * _WEIGHTS[position]) % 11] += count
    return result


def candidates(masked: str, sex: str, birth_date: date | None) -> int:
    """How many resident ID numbers agree with the mask, the sex, the birth date when it is in
    the clear, a real birth date (1900 to today) and the check digit."""
    assert len(masked) == 18
    counts = Counter({0: 1})
    for position in (*range(0, 6), 14, 15, 16):
        if masked[position] != "*":
            digits = [int(masked[position])]
        elif position == 0:
            digits = range(1, 9)  # province codes 11..82
        elif position == 16:
            digits = range(1, 10, 2) if sex == "male" else range(0, 10, 2)
        else:
            digits = range(10)
        counts = _weighted(counts, position, digits)
    pattern = masked[_BIRTH]
    births = Counter()
    for text in _EVERY_BIRTH_DATE:
        if birth_date is not None and text != birth_date.strftime("%Y%m%d"):
            continue
        if all(p in ("*", t) for p, t in zip(pattern, text, strict=True)):
            total = sum(int(ch) * _WEIGHTS[6 + i] for i, ch in enumerate(text))
            births[total % 11] += 1
    check = masked[17]
    return sum(
        count * births[b]
        for residue, count in counts.items()
        for b in births
        if check == "*" or _CHECK_CHARS[(residue + b) % 11] == check
    )


def test_the_attacker_would_rebuild_the_number_from_a_clear_birth_date_and_a_longer_mask():
    number = resident_id(birth="19900307", region="110105")
    masked = number[:3] + "*" * 11 + number[-4:]
    found = candidates(masked, "male", date(1990, 3, 7))
    assert 1 <= found < 100  # before the district list narrows it further
    assert candidates(number, "male", date(1990, 3, 7)) == 1


@pytest.mark.parametrize(
    "number",
    [
        resident_id(birth="19900307", region="110105", serial=45),
        resident_id(birth="20260101", male=False, region="440305", serial=3),
        resident_id(birth="19000101", region="820000", serial=11),
        resident_id(birth="20121231", male=False, region="650102", serial=98),
    ],
)
def test_a_dump_of_the_patient_table_leaves_too_many_candidates_for_a_resident_id(session, number):
    account = make_account()
    patient = patients.add_patient(
        account.id,
        {"name": "冯十一", "id_number": number, "relationship": "self", "phone": "13700137000"},
    )
    row = (
        session.execute(sa.text("SELECT * FROM patient WHERE id = :id"), {"id": patient.id})
        .mappings()
        .one()
    )
    clear = {
        column
        for column, value in row.items()
        if not column.endswith(("_cipher", "_hash")) and value is not None
    }
    assert clear <= UNRELATED | READ, f"say what {clear - UNRELATED - READ} tells of the number"
    assert row["id_type"] == IdType.RESIDENT_ID
    found = candidates(row["id_number_masked"], row["sex"], row.get("birth_date"))
    assert found >= MIN_CANDIDATES
