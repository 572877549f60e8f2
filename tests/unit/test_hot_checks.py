"""app/api/hot.py's check of a hold's usual shape, against the endpoint's schemas it replaces."""

import marshmallow as ma
import pytest

from app.api.hot import _plain_hold
from app.schemas.orders import IdempotencyHeader, OrderCreateSchema

KEY = "bench-1a2b3c4d-000001"
BIG = 2**63 - 1

CASES = [
    (KEY, {"schedule_id": 1, "patient_id": 2}),
    (KEY, {"patient_id": BIG, "schedule_id": BIG}),
    ("abcdefgh", {"schedule_id": 7, "patient_id": 9}),
    ("A" * 64, {"schedule_id": 7, "patient_id": 9}),
    ("A" * 65, {"schedule_id": 7, "patient_id": 9}),
    ("abcdefg", {"schedule_id": 7, "patient_id": 9}),
    ("abc def gh", {"schedule_id": 7, "patient_id": 9}),
    ("abcdefgh\n", {"schedule_id": 7, "patient_id": 9}),
    ("ａｂｃｄｅｆｇｈ", {"schedule_id": 7, "patient_id": 9}),
    (KEY, {"schedule_id": 0, "patient_id": 2}),
    (KEY, {"schedule_id": -1, "patient_id": 2}),
    (KEY, {"schedule_id": BIG + 1, "patient_id": 2}),
    (KEY, {"schedule_id": True, "patient_id": 2}),
    (KEY, {"schedule_id": 1.0, "patient_id": 2}),
    (KEY, {"schedule_id": "1", "patient_id": 2}),
    (KEY, {"schedule_id": None, "patient_id": 2}),
    (KEY, {"schedule_id": 1}),
    (KEY, {"schedule_id": 1, "patient_id": 2, "note": ""}),
    (KEY, {"schedule_id": 1, "doctor_id": 2}),
    (KEY, [1, 2]),
    (KEY, None),
]


def _schemas(key, body):
    try:
        IdempotencyHeader().load({"Idempotency-Key": key})
        return OrderCreateSchema().load(body)
    except ma.ValidationError:
        return None


# The usual shape, taken without the schemas; everything else is left to Flask, which answers
# with the schemas' own errors ("abcdefgh\n" passes them: the regex's $ allows a final newline).
TAKEN = CASES[:4]
LEFT_TO_FLASK = CASES[4:]


@pytest.mark.parametrize("key, body", TAKEN)
def test_the_usual_shape_is_taken_as_the_schemas_load_it(key, body):
    assert _plain_hold(key, body) == body == _schemas(key, body)


@pytest.mark.parametrize("key, body", LEFT_TO_FLASK)
def test_anything_else_is_left_to_the_endpoint(key, body):
    assert _plain_hold(key, body) is None
