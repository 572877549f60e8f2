"""`make run` serves on SQLite by default: holds (grouped, from threads) work there too."""

import threading
from datetime import timedelta

from app.domain import clock
from app.errors import AppError
from app.extensions import db
from app.services import patients
from app.services.booking import holds, queries
from tests.factories import make_schedule
from tests.integration.committed import make_patients


def test_holds_from_threads_on_sqlite(sqlite_app):
    app = sqlite_app
    with app.app_context():
        schedule = make_schedule(
            on=clock.business_date(clock.now()) + timedelta(days=1), capacity=2
        )
        db.session.commit()
        schedule_id = schedule.id
        pairs = make_patients(5)
    answers = []

    def hold(pair):
        with app.app_context():
            try:
                order, _ = holds.hold_slot(pair[0], schedule_id, pair[1], f"lite-{pair[0]}")
                answers.append(order.seq)
            except AppError as error:
                answers.append(error.code)

    threads = [threading.Thread(target=hold, args=(pair,)) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(answers, key=str) == [1, 2, *["slot_sold_out"] * 3]
    with app.app_context():
        winner = next(pair for pair in pairs if queries.list_orders(pair[0]).total)
        again, created = holds.hold_slot(winner[0], schedule_id, winner[1], f"lite-{winner[0]}")
        assert not created and again.seq in (1, 2)
        # The account pages' packed reads work there too.
        page = queries.list_orders(winner[0])
        assert (page.total, page.items[0].seq, page.items[0].patient.id) == (
            1,
            again.seq,
            winner[1],
        )
        family = patients.list_patients(winner[0])
        assert (family.total, [patient.id for patient in family.items]) == (1, [winner[1]])
        assert family.items[0].birth_date is not None
