"""Orders over HTTP: every refusal code with its message, idempotent retries, cancel, reschedule,
tickets, and one account never seeing another's orders."""

from datetime import UTC, datetime, time, timedelta

import pytest

from app.domain import clock
from app.domain.enums import ScheduleStatus, SexRule
from app.extensions import db
from app.infra.crypto import verify_ticket
from tests.e2e.clients import expect, hold, patient_of
from tests.factories import make_department, make_doctor, make_hospital, make_schedule, resident_id

TODAY = clock.business_date(clock.now())
TOMORROW = TODAY + timedelta(days=1)


class TestHold:
    def test_a_hold(self, user, world):
        schedule_id = world.schedule(capacity=3, minutes_per_patient=15)
        before = clock.now()
        order = expect(hold(user, schedule_id, patient_of(user)), 201)
        assert order["status"] == "pending_payment" and order["status_name"] == "待支付"
        assert order["seq"] == 1 and order["amount_fen"] == 2000
        assert order["suggested_time"] == f"{TOMORROW.isoformat()}T08:00:00+08:00"
        expires = datetime.fromisoformat(order["expires_at"])
        assert timedelta(minutes=14) < expires - before <= timedelta(minutes=15, seconds=5)
        assert order["expires_at"].endswith("+08:00")

    def test_the_number_shows_as_taken_at_once(self, http, user, world):
        doctor_id = world.doctor()
        schedule_id = world.schedule(doctor_id, capacity=3)
        url = f"/api/v1/doctors/{doctor_id}/schedules"
        params = {"start": TOMORROW.isoformat(), "days": 1}
        assert [s["remaining"] for s in http.get(url, params=params).json()] == [3]  # now cached
        expect(hold(user, schedule_id, patient_of(user)), 201)
        assert [s["remaining"] for s in http.get(url, params=params).json()] == [2]

    def test_the_same_key_and_body_return_the_same_order(self, user, world):
        schedule_id = world.schedule(capacity=3)
        patient_id = patient_of(user)
        first = expect(hold(user, schedule_id, patient_id, key="same-key-0001"), 201)
        retry = hold(user, schedule_id, patient_id, key="same-key-0001")
        assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
        assert retry.json()["id"] == first["id"]
        assert user.call("GET", "/api/v1/orders").json()["total"] == 1

    def test_the_same_key_with_another_body_is_a_conflict(self, user, world):
        patient_id = patient_of(user)
        expect(hold(user, world.schedule(capacity=3), patient_id, key="same-key-0002"), 201)
        other = hold(user, world.schedule(capacity=3), patient_id, key="same-key-0002")
        expect(other, 409, "idempotency_conflict")

    def test_keys_are_per_account(self, user, other, world):
        schedule_id = world.schedule(capacity=3)
        expect(hold(user, schedule_id, patient_of(user), key="shared-key-01"), 201)
        expect(hold(other, schedule_id, patient_of(other), key="shared-key-01"), 201)

    @pytest.mark.parametrize(
        "headers, body, field",
        [
            ({}, {"schedule_id": 1, "patient_id": 1}, "Idempotency-Key"),
            ({"Idempotency-Key": "short"}, {"schedule_id": 1, "patient_id": 1}, "Idempotency-Key"),
            (
                {"Idempotency-Key": "bad key with spaces"},
                {"schedule_id": 1, "patient_id": 1},
                "Idempotency-Key",
            ),
            (
                {"Idempotency-Key": "valid-key-01"},
                {"schedule_id": "1", "patient_id": 1},
                "schedule_id",
            ),
            ({"Idempotency-Key": "valid-key-02"}, {"patient_id": 1}, "schedule_id"),
            (
                {"Idempotency-Key": "valid-key-03"},
                {"schedule_id": -4, "patient_id": 1},
                "schedule_id",
            ),
            (
                {"Idempotency-Key": "valid-key-04"},
                {"schedule_id": 1, "patient_id": 2**70},
                "patient_id",
            ),
        ],
    )
    def test_malformed_requests(self, user, headers, body, field):
        response = user.call("POST", "/api/v1/orders", json=body, headers=headers)
        assert field in expect(response, 422, "validation_error")["errors"]

    def test_needs_login(self, http):
        response = http.post(
            "/api/v1/orders",
            json={"schedule_id": 1, "patient_id": 1},
            headers={"Idempotency-Key": "k" * 10},
        )
        expect(response, 401, "unauthorized")


class TestRefusals:
    """Each rule's code and Chinese message, in the order the rules are checked."""

    def test_unknown_schedule(self, user):
        expect(hold(user, 99_999_999, patient_of(user)), 404, "not_found")

    def test_schedule_stopped(self, user, world):
        schedule_id = world.schedule(status=ScheduleStatus.STOPPED)
        body = expect(hold(user, schedule_id, patient_of(user)), 409, "schedule_stopped")
        assert "停诊" in body["message"]

    def test_not_released_says_when(self, user, world):
        release = datetime.now(UTC) + timedelta(hours=3)
        schedule_id = world.schedule(release_at=release)
        body = expect(hold(user, schedule_id, patient_of(user)), 409, "not_released")
        assert abs(datetime.fromisoformat(body["release_at"]) - release) < timedelta(seconds=1)
        assert body["release_at"].endswith("+08:00")

    def test_outside_the_booking_window(self, user, world):
        schedule_id = world.schedule(on=TODAY + timedelta(days=8))  # the window is 7 days
        expect(hold(user, schedule_id, patient_of(user)), 409, "outside_booking_window")

    def test_another_accounts_patient_is_not_found(self, user, other, world):
        schedule_id = world.schedule()
        expect(hold(user, schedule_id, patient_of(other)), 404, "not_found")

    def test_sex_restricted(self, user, world):
        doctor_id = world.doctor(sex_rule=SexRule.FEMALE)
        body = expect(hold(user, world.schedule(doctor_id), patient_of(user)), 422, "not_eligible")
        assert body["reason"] == "sex_restricted" and "女性" in body["message"]

    def test_age_restricted_on_the_visit_date(self, user, world):
        doctor_id = world.doctor(max_age=14)
        adult = patient_of(user)
        body = expect(hold(user, world.schedule(doctor_id), adult), 422, "not_eligible")
        assert body["reason"] == "age_restricted"
        child = patient_of(
            user, id_number=resident_id(birth="20200101", serial=3), relationship="child"
        )
        expect(hold(user, world.schedule(doctor_id, on=TOMORROW + timedelta(days=1)), child), 201)

    def test_account_blocked_says_until(self, user, world):
        until = datetime.now(UTC) + timedelta(days=30)
        world.block(user.session["account"]["id"], until)
        body = expect(hold(user, world.schedule(), patient_of(user)), 403, "account_blocked")
        assert body["until"].endswith("+08:00") and "爽约" in body["message"]

    def test_duplicate_booking_same_doctor_same_day(self, user, world):
        doctor_id = world.doctor()
        patient_id = patient_of(user)
        expect(hold(user, world.schedule(doctor_id), patient_id), 201)
        afternoon = world.schedule(
            doctor_id, period="afternoon", start_time=time(13, 30), end_time=time(17, 0)
        )
        expect(hold(user, afternoon, patient_id), 409, "duplicate_booking")

    def test_three_holds_a_day_per_account(self, user, world):
        patient_id = patient_of(user)
        for _ in range(3):
            expect(hold(user, world.schedule(), patient_id), 201)
        body = expect(hold(user, world.schedule(), patient_id), 429, "booking_limit")
        assert body["limit"] == "holds_per_day"

    def test_three_departments_per_patient_per_day(self, user, world, served):
        with served.app.app_context():
            hospital = make_hospital(max_holds_per_day=10)
            doctors = [make_doctor(make_department(hospital)) for _ in range(4)]
            schedules = [make_schedule(d, on=TOMORROW) for d in doctors]
            db.session.commit()
            ids = [s.id for s in schedules]
        patient_id = patient_of(user)
        for schedule_id in ids[:3]:
            expect(hold(user, schedule_id, patient_id), 201)
        body = expect(hold(user, ids[3], patient_id), 429, "booking_limit")
        assert body["limit"] == "departments_per_patient_per_day"

    def test_sold_out(self, user, other, world):
        schedule_id = world.schedule(capacity=1)
        expect(hold(user, schedule_id, patient_of(user)), 201)
        body = expect(hold(other, schedule_id, patient_of(other)), 409, "slot_sold_out")
        assert body["message"] == "该时段号源已约满"


class TestAfterTheHold:
    def test_my_orders_newest_first_and_filtered(self, user, world):
        patient_id = patient_of(user)
        first = expect(hold(user, world.schedule(), patient_id), 201)
        second = expect(hold(user, world.schedule(), patient_id), 201)
        expect(user.call("POST", f"/api/v1/orders/{first['id']}/cancel"), 200)
        listed = expect(user.call("GET", "/api/v1/orders"), 200)
        assert [o["id"] for o in listed["items"]] == [second["id"], first["id"]]
        pending = expect(user.call("GET", "/api/v1/orders?status=pending_payment"), 200)
        assert [o["id"] for o in pending["items"]] == [second["id"]]
        expect(user.call("GET", "/api/v1/orders?status=paid"), 422, "validation_error")

    def test_cancel_frees_the_number_at_once(self, user, other, world):
        schedule_id = world.schedule(capacity=1)
        order = expect(hold(user, schedule_id, patient_of(user)), 201)
        cancelled = expect(user.call("POST", f"/api/v1/orders/{order['id']}/cancel"), 200)
        assert cancelled["status"] == "cancelled" and cancelled["cancelled_by"] == "patient"
        assert expect(hold(other, schedule_id, patient_of(other)), 201)["seq"] == 1
        again = user.call("POST", f"/api/v1/orders/{order['id']}/cancel")
        expect(again, 409, "order_not_cancellable")

    def test_reschedule_to_another_day_of_the_same_doctor(self, user, world):
        doctor_id = world.doctor()
        source = world.schedule(doctor_id)
        target = world.schedule(doctor_id, on=TOMORROW + timedelta(days=1))
        order = expect(hold(user, source, patient_of(user)), 201)
        url = f"/api/v1/orders/{order['id']}/reschedule"
        moved = expect(user.call("POST", url, json={"schedule_id": target}), 200)
        assert moved["id"] == order["id"] and moved["schedule_id"] == target
        assert moved["reschedule_count"] == 1 and moved["status"] == "pending_payment"
        back = expect(user.call("POST", url, json={"schedule_id": source}), 200)
        assert back["reschedule_count"] == 2
        third = user.call("POST", url, json={"schedule_id": target})
        expect(third, 409, "reschedule_limit")

    def test_reschedule_only_to_the_same_doctor(self, user, world):
        order = expect(hold(user, world.schedule(), patient_of(user)), 201)
        url = f"/api/v1/orders/{order['id']}/reschedule"
        expect(
            user.call("POST", url, json={"schedule_id": world.schedule()}),
            422,
            "invalid_reschedule",
        )
        expect(user.call("POST", url, json={"schedule_id": "x"}), 422, "validation_error")

    def test_reschedule_to_a_full_schedule(self, user, other, world):
        doctor_id = world.doctor()
        full = world.schedule(doctor_id, on=TOMORROW + timedelta(days=1), capacity=1)
        expect(hold(other, full, patient_of(other)), 201)
        order = expect(hold(user, world.schedule(doctor_id), patient_of(user)), 201)
        response = user.call(
            "POST", f"/api/v1/orders/{order['id']}/reschedule", json={"schedule_id": full}
        )
        expect(response, 409, "slot_sold_out")
        assert (
            expect(user.call("GET", f"/api/v1/orders/{order['id']}"), 200)["reschedule_count"] == 0
        )

    def test_ticket_is_signed_for_offline_checks(self, http, user, world):
        order = expect(hold(user, world.schedule(), patient_of(user)), 201)
        ticket = expect(user.call("GET", f"/api/v1/orders/{order['id']}/ticket"), 200)
        key = expect(http.get("/api/v1/tickets/public-key"), 200)
        assert key["algorithm"] == "Ed25519"
        payload = verify_ticket(key["public_key"], ticket["qr_payload"])
        assert (payload["o"], payload["q"]) == (order["id"], order["seq"])
        assert set(ticket["order"]["department"]) == {"id", "name", "location"}
        expect(user.call("POST", f"/api/v1/orders/{order['id']}/cancel"), 200)
        expect(user.call("GET", f"/api/v1/orders/{order['id']}/ticket"), 409, "ticket_unavailable")

    def test_a_patient_with_an_active_order_cannot_be_removed(self, user, world):
        patient_id = patient_of(user)
        order = expect(hold(user, world.schedule(), patient_id), 201)
        response = user.call("DELETE", f"/api/v1/patients/{patient_id}")
        expect(response, 409, "patient_has_active_orders")
        expect(user.call("POST", f"/api/v1/orders/{order['id']}/cancel"), 200)
        expect(user.call("DELETE", f"/api/v1/patients/{patient_id}"), 204)


class TestIsolation:
    def test_another_accounts_order_is_not_found_everywhere(self, user, other, world):
        doctor_id = world.doctor()
        order = expect(hold(user, world.schedule(doctor_id), patient_of(user)), 201)
        target = world.schedule(doctor_id, on=TOMORROW + timedelta(days=1))
        base = f"/api/v1/orders/{order['id']}"
        expect(other.call("GET", base), 404, "not_found")
        expect(other.call("GET", base + "/ticket"), 404, "not_found")
        expect(other.call("POST", base + "/cancel"), 404, "not_found")
        expect(
            other.call("POST", base + "/reschedule", json={"schedule_id": target}), 404, "not_found"
        )
        assert other.call("GET", "/api/v1/orders").json()["total"] == 0
        assert expect(user.call("GET", base), 200)["status"] == "pending_payment"


def test_a_revoked_token_books_nothing(user, world):
    """The hold checks revocation itself (after its sold-out fast path): it must still refuse."""
    schedule_id = world.schedule(capacity=3)
    patient_id = patient_of(user)
    stale = user.token
    expect(user.call("POST", "/api/v1/auth/logout"), 204)
    user.token = stale
    expect(hold(user, schedule_id, patient_id), 401, "unauthorized")
    user.login()
    assert user.call("GET", "/api/v1/orders").json()["total"] == 0
