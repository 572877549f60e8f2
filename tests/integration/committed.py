"""Tests that need real commits (concurrency, races): a database emptied after each test."""

from app.extensions import db
from app.services import patients
from tests.factories import make_account, resident_id


def empty_tables():
    """Delete every row the tests made, children first so foreign keys never object."""
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()


def make_patients(count):
    """``count`` accounts with one patient each, committed; returns [(account_id, patient_id)]."""
    pairs = []
    for n in range(count):
        account = make_account()
        db.session.commit()
        patient = patients.add_patient(
            account.id,
            {"name": "患者", "id_number": resident_id(serial=n % 100), "relationship": "self"},
        )
        pairs.append((account.id, patient.id))
    return pairs


def see_committed():
    """Forget what this session holds, so the next reads see what other sessions committed."""
    db.session.rollback()
    db.session.expire_all()
