"""The visit day over HTTP: check in, watch the place in the queue, be called, be told."""

from datetime import time, timedelta

import pytest

from app.domain import clock
from app.services import visits
from tests.e2e.clients import User, expect, hold, patient_of
from tests.e2e.test_messages import allow
from tests.support import run_queued_jobs

TODAY = clock.business_date(clock.now())


@pytest.fixture
def today(world):
    """A free clinic of today that runs all day (00:01–23:59), so check-in is open now."""
    return world.schedule(
        on=TODAY, start_time=time(0, 1), end_time=time(23, 59), fee_fen=0, minutes_per_patient=1
    )


def booked(user, schedule_id):
    order = expect(hold(user, schedule_id, patient_of(user)), 201)
    assert order["status"] == "booked"  # a free clinic books at once
    return order


def test_check_in_then_watch_the_place_until_called(served, user, other, today):
    mine = booked(user, today)
    theirs = booked(other, today)
    before = expect(user.call("GET", f"/api/v1/orders/{mine['id']}/queue"), 200)
    assert before["status"] == "booked" and before["position"] is None

    first = expect(user.call("POST", f"/api/v1/orders/{mine['id']}/check-in"), 200)
    assert (first["status"], first["position"], first["ahead"]) == ("checked_in", 1, 0)
    assert first["status_text"] == "已签到" and first["estimated_wait_minutes"] == 0
    again = expect(user.call("POST", f"/api/v1/orders/{mine['id']}/check-in"), 200)
    assert again == first
    second = expect(other.call("POST", f"/api/v1/orders/{theirs['id']}/check-in"), 200)
    assert (second["position"], second["ahead"], second["estimated_wait_minutes"]) == (2, 1, 1)

    with served.app.app_context():
        assert visits.call_next(today).id == mine["id"]
    called = expect(user.call("GET", f"/api/v1/orders/{mine['id']}/queue"), 200)
    assert called["status"] == "called" and called["called_at"]
    assert called["estimated_wait_minutes"] == 0
    waiting = expect(other.call("GET", f"/api/v1/orders/{theirs['id']}/queue"), 200)
    assert (waiting["position"], waiting["ahead"], waiting["estimated_wait_minutes"]) == (1, 0, 1)


def test_anothers_order_is_not_found_and_a_token_is_needed(http, user, other, today):
    order = booked(user, today)
    expect(other.call("POST", f"/api/v1/orders/{order['id']}/check-in"), 404, "not_found")
    expect(other.call("GET", f"/api/v1/orders/{order['id']}/queue"), 404, "not_found")
    assert http.get(f"/api/v1/orders/{order['id']}/queue").status_code == 401
    assert http.post(f"/api/v1/orders/{order['id']}/check-in").status_code == 401


def test_checking_in_on_another_day_is_refused_with_the_reason(user, world):
    tomorrow = world.schedule(on=TODAY + timedelta(days=1), fee_fen=0)
    order = booked(user, tomorrow)
    answer = expect(
        user.call("POST", f"/api/v1/orders/{order['id']}/check-in"), 409, "not_visit_day"
    )
    assert "就诊日" in answer["message"]


def test_a_patient_near_the_front_is_told_by_wechat(served, http, phone, today):
    user = User(http, phone)
    allow(user, "queue_called")
    order = booked(user, today)
    expect(user.call("POST", f"/api/v1/orders/{order['id']}/check-in"), 200)
    with served.app.app_context():
        run_queued_jobs()
    template = served.app.config["WECHAT_TEMPLATES"]["queue_called"]
    (sent,) = [
        m for m in phone.messages(user.openid) if m["template_id"] == template["template_id"]
    ]
    data = {keyword: item["value"] for keyword, item in sent["data"].items()}
    assert data["character_string3"] == str(order["seq"]) and data["number4"] == "0"
    assert sent["page"] == f"packages/orders/pages/visit/index?id={order['id']}"
