"""An account's own pages (GET /me, /patients, /orders): cached until the account's next change
(app/services/account_pages.py) and answered before Flask, computed there on a miss
(app/api/public.py).

The suite runs with ACCOUNT_CACHE_CHECK: no cached page is served, before Flask or in it,
without being computed anew and compared, so every test that reads a page after a change shows
that the change dropped it. Here: that check itself, the changes that reach an account's pages
from outside its own calls (the hold group's statements, a job, a stopped clinic, a catalogue
edit, midnight), and the pages answered before Flask.
"""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.api import public
from app.domain import clock
from app.extensions import RedisExtension, db, redis_store
from app.infra import cache
from app.models import Order
from app.services import auth, catalogue_admin, expiry, staff_accounts, stop_clinic
from app.services.scoping import Scope
from tests.e2e.clients import User, expect, hold, patient_of
from tests.factories import resident_id

PAGES = ("/api/v1/me", "/api/v1/patients", "/api/v1/orders")


def _pages(user) -> dict:
    return {page: expect(user.call("GET", page), 200) for page in PAGES}


def _listed(user, order_id) -> dict:
    (item,) = [
        item
        for item in expect(user.call("GET", "/api/v1/orders"), 200)["items"]
        if item["id"] == order_id
    ]
    return item


@pytest.fixture
def unchecked(served):
    """Cached pages served as in production: not computed anew (ACCOUNT_CACHE_CHECK off)."""
    served.app.config["ACCOUNT_CACHE_CHECK"] = False
    yield
    served.app.config["ACCOUNT_CACHE_CHECK"] = True


class TestTheCheck:
    def test_a_change_that_does_not_drop_the_pages_fails_the_next_read(self, served, user, world):
        order = expect(hold(user, world.schedule(), patient_of(user)), 201)
        assert _listed(user, order["id"])["seq"] == order["seq"]  # cached now
        with served.app.app_context():  # a statement past the session's watch
            db.session.execute(sa.update(Order).where(Order.id == order["id"]).values(seq=99))
            db.session.commit()
        expect(user.call("GET", "/api/v1/orders"), 500, "internal_error")


class TestChangesFromElsewhere:
    """Each change below is made while the account's pages are cached; each page read after
    it is compared with the page computed anew (the check), and the change is asserted too."""

    def test_a_hold_decided_in_a_group(self, user, world):
        schedule_id, patient_id = world.schedule(), patient_of(user)
        before = _pages(user)["/api/v1/orders"]
        order = expect(hold(user, schedule_id, patient_id), 201)
        after = expect(user.call("GET", "/api/v1/orders"), 200)
        assert (before["total"], after["total"]) == (0, 1)
        assert after["items"][0]["id"] == order["id"]

    def test_an_unpaid_hold_expired_by_its_job(self, served, user, world):
        order = expect(hold(user, world.schedule(), patient_of(user)), 201)
        assert _listed(user, order["id"])["status"] == "pending_payment"
        with served.app.app_context():
            later = clock.now() + timedelta(hours=1)
            assert expiry.expire_order(order["id"], now=later)
        assert _listed(user, order["id"])["status"] == "expired"

    def test_a_stopped_clinic(self, served, user, world):
        schedule_id = world.schedule()
        order = expect(hold(user, schedule_id, patient_of(user)), 201)
        assert _listed(user, order["id"])["status"] == "pending_payment"
        with served.app.app_context():
            stop_clinic.stop_clinic(schedule_id, "医生临时出诊任务", "测试")
        listed = _listed(user, order["id"])
        assert (listed["status"], listed["cancelled_by"]) == ("cancelled", "hospital")

    def test_a_doctor_edited_by_staff(self, served, user, world):
        order = expect(hold(user, world.schedule(), patient_of(user)), 201)
        assert _listed(user, order["id"])["doctor"]["title"] == "attending_physician"
        with served.app.app_context():
            catalogue_admin.change_doctor(
                Scope(), order["doctor"]["id"], title="chief_physician", specialty="", fee_fen=0
            )
        assert _listed(user, order["id"])["doctor"]["title_name"] == "主任医师"

    def test_a_birthday_at_midnight(self, user, monkeypatch):
        today = clock.business_date(clock.now())
        tomorrow = today + timedelta(days=1)
        born = tomorrow.replace(year=tomorrow.year - 30)
        patient_of(user, id_number=resident_id(birth=born.strftime("%Y%m%d")))
        ages = []
        for moment in (clock.day_end(today) - timedelta(seconds=20), clock.day_end(today)):
            monkeypatch.setattr(clock, "now", lambda moment=moment: moment)
            ages.append(expect(user.call("GET", "/api/v1/patients"), 200)["items"][0]["age"])
        assert ages == [29, 30]


@pytest.mark.usefixtures("unchecked")
class TestSentBeforeFlask:
    def test_a_page_is_sent_before_flask_computed_then_cached(
        self, served, user, world, flask_calls, without_hot_paths
    ):
        expect(hold(user, world.schedule(), patient_of(user)), 201)
        for page in (*PAGES, "/api/v1/orders?status=pending_payment&per_page=5"):
            flask_calls.clear()
            computed = user.call("GET", page)  # a miss: computed and cached before Flask
            cached = user.call("GET", page)
            assert flask_calls == [], page
            direct = without_hot_paths(lambda page=page: user.call("GET", page))
            for answer in (computed, cached):
                assert (answer.status_code, answer.content) == (200, direct.content), page
                assert answer.headers["Cache-Control"] == "no-store"
                assert "ETag" not in answer.headers

    def test_a_caller_whose_state_is_not_cached_is_read_with_the_page_then_from_mysql(
        self, served, user, flask_calls, monkeypatch
    ):
        account_id = expect(user.call("GET", "/api/v1/me"), 200)["id"]
        with served.app.app_context():  # both gone, as STATE_SECONDS and a change leave them
            redis_store.client.delete(auth.state_key(account_id))
            cache.invalidate(cache.account(account_id))
        read, sent = [], []
        for method, seen in (("read", read), ("send", sent)):
            original = getattr(RedisExtension, method)

            def spy(self, *command, _original=original, _seen=seen):
                _seen.append(command[0])
                return _original(self, *command)

            monkeypatch.setattr(RedisExtension, method, spy)
        flask_calls.clear()
        expect(user.call("GET", "/api/v1/patients"), 200)
        # One read (the page and the state together), then MySQL; the state and the page stored.
        assert (flask_calls, read, sent) == ([], ["EVAL"], ["EVAL", "EVAL"])
        with served.app.app_context():
            assert redis_store.client.get(auth.state_key(account_id)) is not None

    def test_a_page_past_the_cached_ones_is_computed_each_time_by_flask(
        self, user, world, flask_calls
    ):
        expect(hold(user, world.schedule(), patient_of(user)), 201)
        flask_calls.clear()
        far = f"/api/v1/orders?page={public.CACHED_PAGES + 1}&per_page=1"
        answers = [expect(user.call("GET", far), 200) for _ in range(2)]
        assert flask_calls == ["/api/v1/orders"] * 2
        assert answers[0] == answers[1] and answers[0]["items"] == []

    def test_a_query_it_cannot_read_plainly_goes_to_flask(self, user, flask_calls):
        for query in ("?per_page=0", "?status=lost", "?page=1&page=2", "?colour=red"):
            flask_calls.clear()
            user.call("GET", "/api/v1/orders" + query)
            assert flask_calls == ["/api/v1/orders"], query

    def test_each_account_is_sent_its_own(self, http, phone, user, flask_calls):
        other = User(http, phone)
        patient_of(user, name="李四")
        for caller in (user, other, user, other):
            expect(caller.call("GET", "/api/v1/patients"), 200)
        flask_calls.clear()
        mine = expect(user.call("GET", "/api/v1/patients"), 200)
        theirs = expect(other.call("GET", "/api/v1/patients"), 200)
        assert flask_calls == []
        assert ([item["name"] for item in mine["items"]], theirs["total"]) == (["李四"], 0)

    @pytest.mark.parametrize("token", ["", "Bearer", "Bearer not-a-token", "Basic abc"])
    def test_a_missing_or_forged_token_goes_to_flask(self, http, user, flask_calls, token):
        _pages(user)
        flask_calls.clear()
        expect(http.get("/api/v1/orders", headers={"Authorization": token}), 401, "unauthorized")
        assert flask_calls == ["/api/v1/orders"]

    def test_a_revoked_token_goes_to_flask(self, user, flask_calls):
        _pages(user)
        revoked = user.token
        expect(user.call("POST", "/api/v1/auth/logout"), 204)
        flask_calls.clear()
        for page in PAGES:
            response = user.http.get(page, headers={"Authorization": f"Bearer {revoked}"})
            expect(response, 401, "unauthorized")
        assert flask_calls == list(PAGES)

    def test_a_frozen_account_goes_to_flask(self, served, user, flask_calls):
        _pages(user)
        account_id = expect(user.call("GET", "/api/v1/me"), 200)["id"]
        with served.app.app_context():
            staff_accounts.freeze(account_id, "测试", None)
        flask_calls.clear()
        expect(user.call("GET", "/api/v1/me"), 401, "unauthorized")  # freezing signs it out
        assert flask_calls == ["/api/v1/me"]
