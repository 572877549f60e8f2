"""The visit day against MariaDB and Redis, on an injected clock: check-in, the queue staff call
from and the place patients read (from Redis, else MySQL), queue-called notices, no-shows and
the block they earn, reminders."""

from datetime import datetime, timedelta

import pytest
import redis
import sqlalchemy as sa

from app.domain import clock
from app.domain.messages import MessageKind
from app.domain.orders import OrderStatus
from app.errors import AppError
from app.extensions import db, redis_store
from app.infra import waiting
from app.models import Account, Message, Order
from app.services import cancellation, no_shows, reminders, visits
from app.services.booking import holds, tickets
from tests.factories import make_schedule
from tests.integration.committed import make_patients, see_committed

VISIT = clock.business_date(clock.now()) + timedelta(days=1)


def at(hour, minute=0, day=VISIT):
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=clock.CHINA_TZ)


@pytest.fixture
def clinic(committed):
    """Tomorrow 08:00–12:00, 10 minutes per patient, free (booked at once), four patients with
    numbers 1–4 (suggested 08:00, 08:10, 08:20, 08:30)."""
    schedule = make_schedule(on=VISIT, capacity=6, fee_fen=0)
    db.session.commit()
    people = make_patients(4)
    orders = []
    for n, (account_id, patient_id) in enumerate(people):
        order, _ = holds.hold_slot(
            account_id, schedule.id, patient_id, f"visit-key-{n}", now=clock.now()
        )
        orders.append((account_id, order.id))
    see_committed()
    return schedule, orders


def _status(order_id):
    see_committed()
    return db.session.get(Order, order_id)


class TestCheckIn:
    def test_on_the_day_within_the_window_the_order_joins_the_queue(self, clinic):
        _, [(account_id, order_id), *_] = clinic
        place = visits.check_in(account_id, order_id, now=at(7, 30))
        assert (place.status, place.position, place.ahead) == (OrderStatus.CHECKED_IN, 1, 0)
        assert place.estimated_wait_minutes == 0
        order = _status(order_id)
        assert order.queue_rank == 1000 and order.checked_in_at == at(7, 30)

    def test_checking_in_twice_is_the_same_place_and_one_effect(self, clinic):
        _, [(account_id, order_id), *_] = clinic
        first = visits.check_in(account_id, order_id, now=at(7, 30))
        again = visits.check_in(account_id, order_id, now=at(7, 45))
        assert first == again
        assert _status(order_id).checked_in_at == at(7, 30)

    @pytest.mark.parametrize(
        ("moment", "code"),
        [
            (at(9, 0, VISIT - timedelta(days=1)), "not_visit_day"),
            (at(9, 0, VISIT + timedelta(days=1)), "not_visit_day"),
            (at(6, 59), "check_in_closed"),  # opens 60 minutes before 08:00
            (at(12, 0), "check_in_closed"),  # closes at the period's end
        ],
    )
    def test_outside_the_day_or_the_window_it_is_refused_with_the_reason(
        self, clinic, moment, code
    ):
        _, [(account_id, order_id), *_] = clinic
        with pytest.raises(AppError) as refused:
            visits.check_in(account_id, order_id, now=moment)
        assert (refused.value.status, refused.value.code) == (409, code)
        assert _status(order_id).status == OrderStatus.BOOKED

    def test_another_accounts_order_is_not_found(self, clinic):
        _, [(_, order_id), (other_account, _), *_] = clinic
        with pytest.raises(AppError) as refused:
            visits.check_in(other_account, order_id, now=at(7, 30))
        assert refused.value.status == 404
        with pytest.raises(AppError):
            visits.queue_place(other_account, order_id)

    def test_staff_check_a_patient_in_by_the_e_tickets_signed_payload(self, clinic):
        schedule, [(account_id, order_id), *_] = clinic
        payload = tickets.ticket(account_id, order_id)["qr_payload"]
        order = visits.check_in_by_ticket(payload, schedule.id, now=at(7, 40))
        assert order.status == OrderStatus.CHECKED_IN
        with pytest.raises(AppError) as forged:
            visits.check_in_by_ticket(payload[:-4] + "AAAA", schedule.id, now=at(7, 40))
        assert forged.value.code == "invalid_ticket"
        with pytest.raises(AppError) as elsewhere:
            visits.check_in_by_ticket(payload, schedule.id + 1, now=at(7, 40))
        assert elsewhere.value.code == "wrong_clinic"


class TestTheQueue:
    def test_on_time_by_number_and_a_late_patient_behind_those_waiting(self, clinic):
        schedule, orders = clinic
        (a1, o1), (a2, o2), (a3, o3), (a4, o4) = orders
        visits.check_in(a3, o3, now=at(7, 50))
        visits.check_in(a1, o1, now=at(7, 55))
        visits.check_in(a2, o2, now=at(8, 40))  # number 2 was due 08:10 (+15): late
        visits.check_in(a4, o4, now=at(8, 41))  # number 4 due 08:30: on time, came after
        places = {o: visits.queue_place(a, o) for a, o in orders}
        # The late number 2 waits behind 1 and 3, who were there; number 4 came later still.
        assert [places[o].position for o in (o1, o3, o2, o4)] == [1, 2, 3, 4]
        assert places[o2].estimated_wait_minutes == 20  # two ahead at 10 minutes

        called = visits.call_next(schedule.id, now=at(8, 45))
        assert called.id == o1
        mine = visits.queue_place(a3, o3)
        assert (mine.position, mine.ahead, mine.estimated_wait_minutes) == (1, 0, 10)
        assert visits.queue_place(a1, o1).estimated_wait_minutes == 0
        assert visits.queue_place(a1, o1).called_at == at(8, 45)

    def test_the_pace_follows_todays_consultations(self, clinic):
        schedule, orders = clinic
        for account_id, order_id in orders:
            visits.check_in(account_id, order_id, now=at(7, 50))
        for minute in (0, 5, 10, 15):  # consultations of 5 minutes, not the schedule's 10
            order = visits.call_next(schedule.id, now=at(8, minute))
            if minute < 15:
                visits.complete(schedule.id, order.id, now=at(8, minute + 5))
        # Three seen at 5 minutes: the pace is 3/4 of the way from 10 to 5.
        waiting_account, waiting_order = orders[3]
        assert visits.queue_place(waiting_account, waiting_order).status == OrderStatus.CALLED
        see_committed()
        _, with_doctor, pace = visits._queue_of(schedule.id)
        assert with_doctor == 1 and pace == pytest.approx(6.25)

    def test_a_skipped_patient_goes_to_the_back_and_twice_skipped_is_a_no_show(self, clinic):
        schedule, orders = clinic
        for account_id, order_id in orders[:3]:
            visits.check_in(account_id, order_id, now=at(7, 50))
        first = visits.call_next(schedule.id, now=at(8, 0))
        visits.skip(schedule.id, first.id, now=at(8, 3))
        account_id, order_id = orders[0]
        assert visits.queue_place(account_id, order_id).position == 3
        assert visits.call_next(schedule.id, now=at(8, 4)).id == orders[1][1]
        visits.complete(schedule.id, orders[1][1], now=at(8, 10))
        assert visits.call_next(schedule.id, now=at(8, 11)).id == orders[2][1]
        visits.complete(schedule.id, orders[2][1], now=at(8, 20))
        assert visits.call_next(schedule.id, now=at(8, 21)).id == order_id
        visits.skip(schedule.id, order_id, now=at(8, 25))
        assert _status(order_id).status == OrderStatus.NO_SHOW
        assert visits.call_next(schedule.id, now=at(8, 26)) is None

    def test_staff_actions_refuse_a_patient_in_the_wrong_state(self, clinic):
        schedule, [(_, order_id), *_] = clinic
        for action in (visits.recall, visits.skip, visits.complete):
            with pytest.raises(AppError) as refused:
                action(schedule.id, order_id, now=at(8, 0))
            assert refused.value.code == "not_called"
        with pytest.raises(AppError) as elsewhere:
            visits.complete(schedule.id + 1, order_id, now=at(8, 0))
        assert elsewhere.value.status == 404

    def test_the_patients_few_enough_ahead_are_told_once(self, clinic):
        schedule, orders = clinic
        for account_id, order_id in orders:
            visits.check_in(account_id, order_id, now=at(7, 50))
        visits.call_next(schedule.id, now=at(8, 0))
        visits.call_next(schedule.id, now=at(8, 10))
        see_committed()
        told = db.session.scalars(
            sa.select(Message.order_id).where(Message.kind == MessageKind.QUEUE_CALLED)
        ).all()
        assert sorted(told) == sorted(order_id for _, order_id in orders)  # each once


class TestReadingThePlace:
    def test_redis_answers_as_mysql_does(self, clinic):
        schedule, orders = clinic
        for account_id, order_id in orders:
            visits.check_in(account_id, order_id, now=at(7, 50))
        visits.call_next(schedule.id, now=at(8, 0))
        account_id, order_id = orders[2]
        from_redis = visits.queue_place(account_id, order_id)
        assert waiting.read(order_id) is not None
        redis_store.client.flushdb()
        from_mysql = visits.queue_place(account_id, order_id)
        assert from_mysql == from_redis
        assert (from_mysql.position, from_mysql.ahead) == (2, 1)

    def test_with_redis_away_the_place_comes_from_mysql(self, clinic, monkeypatch):
        _, orders = clinic
        account_id, order_id = orders[0]
        visits.check_in(account_id, order_id, now=at(7, 50))

        class Away:
            def __getattr__(self, name):
                def refuse(*args, **kwargs):
                    raise redis.ConnectionError("Redis is away")

                return refuse

        monkeypatch.setattr(waiting, "_client", lambda: Away())
        place = visits.queue_place(account_id, order_id)
        assert (place.status, place.position) == (OrderStatus.CHECKED_IN, 1)


class TestNoShows:
    def test_booked_orders_not_checked_in_become_no_shows_after_the_period(self, clinic):
        _, orders = clinic
        account_id, order_id = orders[0]
        visits.check_in(account_id, order_id, now=at(7, 50))
        assert no_shows.mark_no_shows(now=at(12, 29)) == 0  # the grace is 30 minutes
        assert no_shows.mark_no_shows(now=at(12, 30)) == 3
        assert _status(order_id).status == OrderStatus.CHECKED_IN
        assert {_status(o).status for _, o in orders[1:]} == {OrderStatus.NO_SHOW}
        assert no_shows.mark_no_shows(now=at(13, 0)) == 0

    def test_the_third_strike_blocks_new_holds_for_thirty_days(self, committed):
        ((account_id, patient_id),) = make_patients(1)
        doctor_schedules = [
            make_schedule(on=VISIT + timedelta(days=n), capacity=1, fee_fen=0) for n in range(4)
        ]
        db.session.commit()
        for n, schedule in enumerate(doctor_schedules[:3]):
            holds.hold_slot(account_id, schedule.id, patient_id, f"strike-{n}", now=clock.now())
        late = at(13, 0, VISIT + timedelta(days=2))
        assert no_shows.mark_no_shows(now=late) == 3
        see_committed()
        account = db.session.get(Account, account_id)
        assert account.blocked_until == late + timedelta(days=30)
        with pytest.raises(AppError) as blocked:
            holds.hold_slot(account_id, doctor_schedules[3].id, patient_id, "strike-3", now=late)
        assert (blocked.value.status, blocked.value.code) == (403, "account_blocked")


class TestReminders:
    def test_the_evening_before_and_shortly_before_arrival_never_twice(self, clinic):
        day_before = VISIT - timedelta(days=1)
        assert reminders.queue_reminders(now=at(19, 59, day_before)) == 0
        assert reminders.queue_reminders(now=at(20, 0, day_before)) == 4
        assert reminders.queue_reminders(now=at(21, 0, day_before)) == 0
        # On the day: numbers whose arrival is within the next 60 minutes.
        assert reminders.queue_reminders(now=at(7, 5)) == 1  # 08:00
        assert reminders.queue_reminders(now=at(7, 25)) == 2  # 08:10, 08:20
        assert reminders.queue_reminders(now=at(7, 25)) == 0
        see_committed()
        keys = db.session.scalars(
            sa.select(Message.event_key).where(Message.kind == MessageKind.VISIT_REMINDER)
        ).all()
        assert len(keys) == len(set(keys)) == 7

    def test_a_cancelled_order_is_not_reminded(self, clinic):
        _, [(account_id, order_id), *rest] = clinic
        cancellation.cancel_order(account_id, order_id)
        day_before = VISIT - timedelta(days=1)
        assert reminders.queue_reminders(now=at(20, 0, day_before)) == len(rest)
