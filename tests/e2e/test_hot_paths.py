"""app/api/hot.py: holds, cached public reads and queue places answered before Flask dispatches.

Each test watches whether the request reached the Flask app behind the hot paths, and compares
what the hot path answered with what the endpoint itself answers to the same request.
"""

from datetime import time, timedelta
from urllib.parse import quote

import pytest

from app.domain import clock
from app.extensions import db, redis_store
from app.infra import gate
from app.infra.groupcommit import arrivals
from app.models import Doctor
from app.services import catalogue
from app.services.booking import holds
from tests.e2e.clients import expect, hold, patient_of
from tests.support import SentQueries

TODAY = clock.business_date(clock.now())


@pytest.fixture
def still_counted(served):
    """Serve each request as the app's gunicorn worker does, its thread counted among the
    arrivals a hold group's leader waits for (app/infra/groupcommit.py); per request, whether the
    thread was still counted when the app had answered."""
    app, seen = served.app.wsgi_app, []

    def counted(environ, start_response):
        arrivals.begin()
        try:
            return app(environ, start_response)
        finally:
            seen.append(arrivals._counted.on)
            arrivals.end()

    served.app.wsgi_app = counted
    yield seen
    served.app.wsgi_app = app


def _same_answer(first, second):
    assert (first.status_code, first.reason) == (second.status_code, second.reason)
    assert first.content == second.content
    for header in ("Content-Type", "Content-Length", "ETag", "Cache-Control"):
        assert first.headers.get(header) == second.headers.get(header), header


@pytest.fixture
def sold_out(user, world):
    """A schedule whose one number ``user`` holds: the gate counter is at 0."""
    schedule_id = world.schedule(capacity=1)
    user.first_hold = expect(hold(user, schedule_id, patient_of(user), key="hot-first-hold"), 201)
    return schedule_id


def test_only_a_hold_on_its_way_to_a_group_stays_counted(
    other, sold_out, world, http, still_counted
):
    """A thread is counted until the app knows it will not join a hold group: another request,
    or a hold that the gate refuses. A hold that went through a group stays counted until its
    request ends (a group's threads come back as a wave: app/infra/groupcommit.py)."""
    patient_id = patient_of(other)
    expect(http.get("/livez"), 200)
    expect(hold(other, sold_out, patient_id), 409, "slot_sold_out")
    assert still_counted[-2:] == [False, False]
    expect(hold(other, world.schedule(capacity=2), patient_id), 201)
    assert still_counted[-1] is True


class TestHold:
    def test_answered_before_flask_as_the_endpoint_answers(
        self, other, sold_out, flask_calls, without_hot_paths
    ):
        patient_id = patient_of(other)
        flask_calls.clear()
        fast = hold(other, sold_out, patient_id)
        assert flask_calls == []
        body = expect(fast, 409, "slot_sold_out")
        assert body["message"] == "该时段号源已约满"
        _same_answer(fast, without_hot_paths(lambda: hold(other, sold_out, patient_id)))

    def test_in_debug_mode_answers_indented_as_flask_does(
        self, other, sold_out, served, flask_calls, without_hot_paths, monkeypatch
    ):
        monkeypatch.setattr(served.app, "debug", True)
        patient_id = patient_of(other)
        flask_calls.clear()
        fast = hold(other, sold_out, patient_id)
        assert flask_calls == []
        assert fast.text.startswith('{\n  "')
        _same_answer(fast, without_hot_paths(lambda: hold(other, sold_out, patient_id)))

    def test_takes_nothing_from_the_gate(self, other, sold_out, served, flask_calls):
        patient_id = patient_of(other)
        for _ in range(3):
            expect(hold(other, sold_out, patient_id), 409, "slot_sold_out")
        with served.app.app_context():
            assert gate.peek(sold_out) == 0

    def test_a_retry_of_the_successful_hold_gets_its_order_as_from_the_endpoint(
        self, user, sold_out, flask_calls, without_hot_paths
    ):
        patient_id = user.first_hold["patient"]["id"]
        flask_calls.clear()
        replay = hold(user, sold_out, patient_id, key="hot-first-hold")
        assert flask_calls == []
        assert expect(replay, 201) == user.first_hold
        assert replay.headers["Idempotent-Replayed"] == "true"
        endpoint = without_hot_paths(lambda: hold(user, sold_out, patient_id, key="hot-first-hold"))
        _same_answer(replay, endpoint)
        assert endpoint.headers["Idempotent-Replayed"] == "true"

    def test_other_refusals_are_the_endpoints(self, user, world, flask_calls, without_hot_paths):
        schedule_id = world.schedule(capacity=3)
        patient_id = patient_of(user)
        expect(hold(user, schedule_id, patient_id), 201)
        flask_calls.clear()
        again = hold(user, schedule_id, patient_id)
        unknown = hold(user, 10**9, patient_id)
        assert flask_calls == []
        expect(again, 409, "duplicate_booking")
        expect(unknown, 404, "not_found")
        _same_answer(again, without_hot_paths(lambda: hold(user, schedule_id, patient_id)))
        _same_answer(unknown, without_hot_paths(lambda: hold(user, 10**9, patient_id)))

    def test_an_unexpected_error_is_the_endpoints_500(
        self, user, world, flask_calls, without_hot_paths, monkeypatch, caplog
    ):
        def broken(*args, **kwargs):
            raise RuntimeError("the service broke")

        monkeypatch.setattr(holds, "hold_slot", broken)
        schedule_id, patient_id = world.schedule(capacity=1), patient_of(user)
        flask_calls.clear()
        answer = hold(user, schedule_id, patient_id)
        assert flask_calls == []
        expect(answer, 500, "internal_error")
        assert "the service broke" in caplog.text
        _same_answer(answer, without_hot_paths(lambda: hold(user, schedule_id, patient_id)))

    @pytest.mark.parametrize(
        "change, status, code",
        [
            ({"headers": {"Idempotency-Key": "short"}}, 422, "validation_error"),
            ({"headers": {"Authorization": "Bearer forged.token.here"}}, 401, "unauthorized"),
            ({"headers": {"Authorization": ""}}, 401, "unauthorized"),
            ({"json": {"schedule_id": "x", "patient_id": 1}}, 422, "validation_error"),
            ({"json": {"extra": 1}}, 422, "validation_error"),
            ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, None),
            (
                {"data": b'{"schedule_id": 1}', "headers": {"Content-Type": "text/plain"}},
                415,
                "unsupported_media_type",
            ),
        ],
    )
    def test_anything_else_is_flasks_answer(
        self, other, sold_out, flask_calls, without_hot_paths, change, status, code
    ):
        patient_id = patient_of(other)

        def request(key):
            body = {"schedule_id": sold_out, "patient_id": patient_id}
            if "json" in change:
                body = body | change["json"] if "extra" in change["json"] else change["json"]
            kwargs = {"data": change["data"]} if "data" in change else {"json": body}
            headers = {"Authorization": f"Bearer {other.token}", "Idempotency-Key": key}
            headers |= change.get("headers", {})
            return other.http.post("/api/v1/orders", headers=headers, **kwargs)

        flask_calls.clear()
        answer = request("hot-key-0001")
        assert flask_calls == ["/api/v1/orders"]
        assert answer.status_code == status, answer.text
        if code:
            assert answer.json()["code"] == code
        _same_answer(answer, without_hot_paths(lambda: request("hot-key-0001")))

    def test_a_hold_is_booked_as_the_endpoint_books_it(
        self, user, other, world, served, flask_calls, without_hot_paths
    ):
        schedule_id = world.schedule(capacity=2)
        expect(hold(user, schedule_id, patient_of(user)), 201)  # the gate now counts: 1 left
        patient_id = patient_of(other)
        flask_calls.clear()
        booked = hold(other, schedule_id, patient_id, key="hot-booked-key")
        assert flask_calls == []
        assert expect(booked, 201)["seq"] == 2 and "Idempotent-Replayed" not in booked.headers
        with served.app.app_context():
            assert gate.peek(schedule_id) == 0
        # The endpoint's answer to the same request, a replay: the same order, read from MySQL.
        endpoint = without_hot_paths(
            lambda: hold(other, schedule_id, patient_id, key="hot-booked-key")
        )
        _same_answer(booked, endpoint)

    def test_with_redis_away_mysql_answers(self, other, sold_out, served, flask_calls, monkeypatch):
        dead = redis_store.connect("redis://127.0.0.1:1/0", served.app.config)
        monkeypatch.setitem(served.app.extensions, "redis", dead)
        patient_id = patient_of(other)
        flask_calls.clear()
        expect(hold(other, sold_out, patient_id), 409, "slot_sold_out")
        assert flask_calls == []


class TestCachedPublicReads:
    """Every public catalogue read is answered before Flask, as the endpoint answers it: computed
    and cached on a miss, then sent from the cache."""

    @pytest.fixture
    def urls(self, world, served):
        """One URL of each public read, of a department with a schedule tomorrow."""
        doctor_id = world.doctor()
        world.schedule(doctor_id)
        with served.app.app_context():
            doctor = db.session.get(Doctor, doctor_id)
            department_id, hospital_id = doctor.department_id, doctor.department.hospital_id
        tomorrow = TODAY + timedelta(days=1)
        return [
            "/api/v1/hospitals",
            "/api/v1/hospitals?page=1&per_page=2",
            f"/api/v1/hospitals/{hospital_id}",
            f"/api/v1/hospitals/{hospital_id}/departments",
            f"/api/v1/departments/{department_id}/calendar",
            f"/api/v1/departments/{department_id}/calendar?days=3&start={tomorrow}",
            f"/api/v1/departments/{department_id}/schedules?date={tomorrow}",
            f"/api/v1/doctors/{doctor_id}",
            f"/api/v1/doctors/{doctor_id}/schedules",
            f"/api/v1/doctors/{doctor_id}/schedules?days=14",
            "/api/v1/search?q=" + quote("咳嗽"),
        ]

    def test_a_read_is_answered_before_flask_and_cached(
        self, http, served, urls, flask_calls, without_hot_paths
    ):
        for url in urls:
            flask_calls.clear()
            first = http.get(url)  # a miss: read from MySQL and cached, without Flask
            second = http.get(url)
            assert flask_calls == [], url
            assert (first.status_code, first.content) == (200, second.content), url
            _same_answer(first, without_hot_paths(lambda url=url: http.get(url)))
        # Each answer was cached by its miss: sent again without a query.
        with served.app.app_context():
            engine = db.engine
        flask_calls.clear()
        with SentQueries(engine) as sent:
            for url in urls:
                assert http.get(url).status_code == 200, url
        assert (sent.sent, flask_calls) == ([], [])

    def test_a_client_that_has_it_gets_304_before_flask(
        self, http, urls, flask_calls, without_hot_paths
    ):
        url = urls[4]  # the calendar
        etag = expect_cached(http, url).headers["ETag"]
        for if_none_match in (etag, f"W/{etag}"):  # compared weakly, as If-None-Match is
            flask_calls.clear()
            revalidated = http.get(url, headers={"If-None-Match": if_none_match})
            assert (revalidated.status_code, revalidated.content, flask_calls) == (304, b"", [])
            flasks = without_hot_paths(
                lambda header=if_none_match: http.get(url, headers={"If-None-Match": header})
            )
            _same_answer(revalidated, flasks)

    @pytest.mark.parametrize(
        "query",
        [
            "?days=99",  # refused by the schema: Flask's 422
            "?start=2001-01-01",  # refused by the window's check: Flask's 422
            "?days=7&days=3",  # a name twice: webargs' reading of it
            "?days=7&colour=red",  # a name the schema does not know: webargs leaves it out
            "?days",  # no value
            "?days=%ff",  # not UTF-8
        ],
    )
    def test_any_other_query_goes_to_flask(self, http, urls, flask_calls, without_hot_paths, query):
        url = urls[4]
        expect_cached(http, url)
        flask_calls.clear()
        answer = http.get(url + query)
        assert flask_calls == [url]
        _same_answer(answer, without_hot_paths(lambda: http.get(url + query)))

    def test_a_query_on_a_read_that_takes_none_goes_to_flask(self, http, urls, flask_calls):
        url = urls[3]  # the department tree
        expect_cached(http, url)
        flask_calls.clear()
        expect(http.get(url + "?page=1"), 200)
        assert flask_calls == [url]

    @pytest.mark.parametrize(
        "path",
        ["/api/v1/departments/0/calendar", "/api/v1/departments/999999999/calendar"],
    )
    def test_unknown_rows_go_to_flask(self, http, flask_calls, path):
        expect(http.get(path), 404, "not_found")
        flask_calls.clear()
        expect(http.get(path), 404, "not_found")
        assert flask_calls == [path]

    def test_a_failure_naming_the_entry_is_left_to_flask(
        self, http, urls, flask_calls, monkeypatch
    ):
        """MySQL away while the doctor's department is looked up: Flask answers (its 500
        envelope), not the layer in front of it."""
        url = urls[8]  # the doctor's schedules

        def away(doctor_id):
            raise RuntimeError("MySQL away")

        monkeypatch.setattr(catalogue, "doctor_department_id", away)
        flask_calls.clear()
        expect(http.get(url), 500, "internal_error")
        assert flask_calls == [url]

    def test_a_url_flask_would_redirect_goes_to_flask(self, http, flask_calls):
        http.get("/api/v1/hospitals/")
        assert flask_calls == ["/api/v1/hospitals/"]

    def test_a_change_of_its_scope_is_seen_at_once(self, http, urls, user, world, flask_calls):
        """A hold invalidates its department's documents: the next read is computed anew."""
        url = urls[6]  # tomorrow's schedules
        before = expect_cached(http, url)
        expect(hold(user, before.json()[0]["id"], patient_of(user)), 201)
        flask_calls.clear()
        after = expect(http.get(url), 200)
        assert after[0]["remaining"] == before.json()[0]["remaining"] - 1
        assert flask_calls == []


def expect_cached(http, url):
    """GET ``url`` twice (the first fills the cache); the second answer."""
    expect(http.get(url), 200)
    answer = http.get(url)
    assert answer.status_code == 200
    return answer


class TestQueuePlace:
    @pytest.fixture
    def checked_in(self, user, world):
        """The user's order in a free all-day clinic of today, checked in (its queue in Redis)."""
        schedule_id = world.schedule(
            on=TODAY, start_time=time(0, 1), end_time=time(23, 59), fee_fen=0
        )
        order = expect(hold(user, schedule_id, patient_of(user)), 201)
        expect(user.call("POST", f"/api/v1/orders/{order['id']}/check-in"), 200)
        return order

    def test_a_place_redis_holds_is_answered_before_flask_as_the_endpoint_answers(
        self, user, checked_in, flask_calls, without_hot_paths
    ):
        url = f"/api/v1/orders/{checked_in['id']}/queue"
        expect(user.call("GET", url), 200)  # the first read fills the token's cached state
        flask_calls.clear()
        hot = user.call("GET", url)
        assert flask_calls == [] and hot.json()["position"] == 1
        _same_answer(hot, without_hot_paths(lambda: user.call("GET", url)))

    def test_anything_in_doubt_is_flasks_answer(
        self, http, user, other, checked_in, served, flask_calls
    ):
        url = f"/api/v1/orders/{checked_in['id']}/queue"
        expect(user.call("GET", url), 200)
        flask_calls.clear()
        expect(other.call("GET", url), 404, "not_found")  # another account's order
        assert http.get(url).status_code == 401  # no token
        forged = {"Authorization": f"Bearer {user.token[:-2]}xx"}
        assert http.get(url, headers=forged).status_code == 401
        user.call("POST", "/api/v1/auth/logout")  # the token revoked behind the cached state
        assert user.call("GET", url).status_code == 401
        assert flask_calls == [url, url, url, "/api/v1/auth/logout", url]
