"""app/services/pagination.py: a page's total across pages, whether the page itself tells it (a
partial or an empty first page: nothing counted) or it has to be counted (a full page, a page past
the end), for both kinds of list: packed rows (an account's patients) and ORM objects
(hospitals)."""

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from app.extensions import db
from app.models import Hospital
from app.services import catalogue, patients
from tests.factories import make_account, make_hospital, resident_id
from tests.support import SentQueries

# (rows in the list, page, per page): every place the page can fall.
PLACES = [
    (0, 1, 2),  # nothing at all
    (0, 3, 2),  # nothing, and past the end
    (1, 1, 2),  # one partial page
    (2, 1, 2),  # one full page: counted
    (3, 1, 2),  # a full first page of two: counted
    (3, 2, 2),  # the partial last page
    (4, 2, 2),  # a full last page: counted
    (4, 3, 2),  # past the end: counted
    (5, 9, 2),  # far past the end
]


def _on_page(rows, page, per_page):
    return max(0, min(per_page, rows - (page - 1) * per_page))


def _counts(sent):
    return sum("count(" in query.lower() for query in sent.sent)


def _counted(rows, page, per_page):
    """Whether the total needs a count: the page is full, or past the end of a list."""
    on_page = _on_page(rows, page, per_page)
    return on_page == per_page or (on_page == 0 and page > 1)


@pytest.mark.parametrize(("rows", "page", "per_page"), PLACES)
def test_a_page_of_patients_has_the_total(session, rows, page, per_page):
    account = make_account()
    for n in range(rows):
        patients.add_patient(
            account.id,
            {
                "name": f"病人{'一二三四五'[n]}",
                "id_number": resident_id(serial=10 + n),
                "relationship": "other",
            },
        )

    with SentQueries(db.engine) as sent:
        listed = patients.list_patients(account.id, page=page, per_page=per_page)

    assert (len(listed.items), listed.total) == (_on_page(rows, page, per_page), rows)
    assert _counts(sent) == _counted(rows, page, per_page)


@pytest.mark.parametrize(("rows", "page", "per_page"), PLACES)
def test_a_page_of_hospitals_has_the_total(session, rows, page, per_page):
    for n in range(rows):
        make_hospital(name=f"分页测试医院{n}")

    with SentQueries(db.engine) as sent:
        listed = catalogue.list_hospitals(q="分页测试医院", page=page, per_page=per_page)

    assert (len(listed.items), listed.total) == (_on_page(rows, page, per_page), rows)
    assert _counts(sent) == _counted(rows, page, per_page)
    assert [hospital.name for hospital in listed.items] == [
        f"分页测试医院{n}" for n in range((page - 1) * per_page, rows)
    ][:per_page]


def test_rows_deleted_between_the_page_and_its_count_leave_the_total_at_the_page(committed):
    """A full page is counted after it was read: hospitals deleted in between by another
    transaction (READ COMMITTED shows the count their deletion) never leave the total below the
    rows the page shows."""
    names = [f"分页竞争医院{n}" for n in range(4)]
    for name in names:
        make_hospital(name=name)
    db.session.commit()
    page_read = []

    @event.listens_for(db.engine, "after_cursor_execute")
    def delete_after_the_page(connection, cursor, statement, parameters, context, many):
        if not page_read and "count(" not in statement.lower():
            page_read.append(statement)
            with db.engine.connect() as other:  # another connection: its own transaction
                other.execute(sa.delete(Hospital).where(Hospital.name.in_(names[1:])))
                other.commit()

    try:
        listed = catalogue.list_hospitals(q="分页竞争医院", page=1, per_page=2)
    finally:
        event.remove(db.engine, "after_cursor_execute", delete_after_the_page)

    assert page_read  # the deletion ran between the page and its count
    assert [hospital.name for hospital in listed.items] == names[:2]
    assert listed.total == 2  # counted 1, but the page shows 2
