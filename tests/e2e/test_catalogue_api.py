"""The catalogue endpoints over HTTP against the seeded demo data, bad input included."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.domain import clock
from app.domain.enums import DoctorTitle
from app.extensions import db
from app.models import Hospital
from tests.factories import make_department, make_doctor, make_hospital

TODAY = clock.business_date(clock.now())
STATUSES = {"available", "full", "not_released", "stopped", "none"}


def ok(response):
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert body["message"]
    return body


def departments_of(http, hospital_id):
    flat = []

    def walk(nodes):
        for node in nodes:
            flat.append(node)
            walk(node["children"])

    walk(ok(http.get(f"/api/v1/hospitals/{hospital_id}/departments")))
    return flat


@pytest.fixture(scope="module")
def hospitals(http):
    return {h["name"]: h for h in ok(http.get("/api/v1/hospitals?per_page=100"))["items"]}


@pytest.fixture(scope="module")
def big_hospital(hospitals):
    return hospitals["京华第一人民医院"]


@pytest.fixture(scope="module")
def departments(http, big_hospital):
    return {d["name"]: d for d in departments_of(http, big_hospital["id"])}


def _hospital_count(served) -> int:
    """The demo's 3 hospitals and those that tests before made with the factories."""
    with served.app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Hospital))


class TestHospitals:
    def test_list_is_paginated(self, http, served):
        body = ok(http.get("/api/v1/hospitals?page=1&per_page=2"))
        assert (body["page"], body["per_page"], body["total"]) == (1, 2, _hospital_count(served))
        assert len(body["items"]) == 2
        second = ok(http.get("/api/v1/hospitals?page=2&per_page=2"))
        assert len(second["items"]) == min(2, body["total"] - 2)
        assert {h["id"] for h in body["items"]}.isdisjoint({h["id"] for h in second["items"]})

    def test_demo_spans_regions_and_levels(self, hospitals):
        assert len({h["region"] for h in hospitals.values()}) >= 2
        assert len({h["level"] for h in hospitals.values()}) >= 2
        assert {h["level_name"] for h in hospitals.values()} >= {"三级甲等", "二级甲等"}

    def test_filter_by_level(self, http):
        body = ok(http.get("/api/v1/hospitals?level=2A"))
        assert body["total"] == 1 and body["items"][0]["level"] == "2A"

    def test_filter_by_region_and_district(self, http):
        assert ok(http.get("/api/v1/hospitals?region=上海市"))["total"] == 2
        assert ok(http.get("/api/v1/hospitals?region=西城区"))["total"] == 1

    def test_filter_by_name(self, http):
        body = ok(http.get("/api/v1/hospitals", params={"q": "浦江"}))
        assert [h["name"] for h in body["items"]] == ["上海浦江中心医院"]

    def test_a_page_past_the_end_is_empty(self, http, served):
        body = ok(http.get("/api/v1/hospitals?page=500"))
        assert body["items"] == [] and body["total"] == _hospital_count(served)

    def test_detail_has_booking_rules(self, http, big_hospital):
        body = ok(http.get(f"/api/v1/hospitals/{big_hospital['id']}"))
        assert body["booking_rules"] == {
            "release_time": "07:00",
            "booking_window_days": 7,
            "hold_minutes": 15,
        }

    @pytest.mark.parametrize(
        "query, field",
        [
            ("page=-1", "page"),
            ("page=0", "page"),
            ("page=abc", "page"),
            ("per_page=0", "per_page"),
            ("per_page=101", "per_page"),
            ("level=5Z", "level"),
        ],
    )
    def test_bad_list_arguments(self, http, query, field):
        body = error(http.get(f"/api/v1/hospitals?{query}"), 422, "validation_error")
        assert field in body["errors"]

    def test_unknown_hospital(self, http):
        error(http.get("/api/v1/hospitals/999999"), 404, "not_found")
        error(http.get("/api/v1/hospitals/999999/departments"), 404, "not_found")

    def test_non_numeric_id_is_not_found(self, http):
        error(http.get("/api/v1/hospitals/abc"), 404, "not_found")


class TestDepartments:
    def test_tree_nests_children(self, http, big_hospital):
        roots = ok(http.get(f"/api/v1/hospitals/{big_hospital['id']}/departments"))
        internal = next(node for node in roots if node["name"] == "内科")
        assert {child["name"] for child in internal["children"]} >= {"呼吸内科", "消化内科"}
        assert all(child["parent_id"] == internal["id"] for child in internal["children"])

    def test_eligibility_rules(self, departments):
        assert departments["妇科"]["eligibility"]["sex"] == "female"
        assert departments["儿科"]["eligibility"]["max_age"] == 14
        assert departments["呼吸内科"]["eligibility"] == {
            "sex": "any",
            "min_age": None,
            "max_age": None,
        }
        assert "咳嗽" in departments["呼吸内科"]["symptoms"]


class TestCalendar:
    def test_seven_days_from_today_by_default(self, http, departments):
        cells = ok(http.get(f"/api/v1/departments/{departments['呼吸内科']['id']}/calendar"))
        assert [c["date"] for c in cells] == [
            (TODAY + timedelta(days=n)).isoformat() for n in range(7)
        ]
        assert all(c["status"] in STATUSES for c in cells)
        assert all(0 <= c["remaining"] <= c["total"] for c in cells)
        assert any(c["status"] == "available" for c in cells)

    def test_days_and_start(self, http, departments):
        start = TODAY + timedelta(days=2)
        url = f"/api/v1/departments/{departments['呼吸内科']['id']}/calendar"
        cells = ok(http.get(url, params={"start": start.isoformat(), "days": 3}))
        assert [c["date"] for c in cells] == [
            (start + timedelta(days=n)).isoformat() for n in range(3)
        ]

    def test_a_stopped_day_shows_stopped(self, http, departments):
        url = f"/api/v1/departments/{departments['消化内科']['id']}/calendar?days=8"
        cells = ok(http.get(url))
        assert any(c["status"] == "stopped" and c["remaining"] == 0 for c in cells)

    def test_days_not_yet_released_show_not_released(self, http, hospitals):
        community = departments_of(http, hospitals["徐汇区社区卫生服务中心"]["id"])
        statuses = set()
        for department in community:
            url = f"/api/v1/departments/{department['id']}/calendar?days=8"
            statuses |= {c["status"] for c in ok(http.get(url))}
        assert "not_released" in statuses

    def test_a_day_without_schedules_is_none(self, http, departments):
        parent = departments["内科"]  # schedules hang on leaf departments
        cells = ok(http.get(f"/api/v1/departments/{parent['id']}/calendar"))
        assert {c["status"] for c in cells} == {"none"}

    @pytest.mark.parametrize(
        "query, field",
        [
            ("days=0", "days"),
            ("days=15", "days"),
            ("days=-3", "days"),
            ("days=seven", "days"),
            ("start=2026-13-01", "start"),
            ("start=yesterday", "start"),
            ("start=2026-02-30", "start"),
            ("start=" + (TODAY - timedelta(days=1)).isoformat(), "start"),
            ("start=" + (TODAY + timedelta(days=367)).isoformat(), "start"),
            ("start=9999-12-30&days=7", "start"),  # its last day would be past the calendar's
        ],
    )
    def test_bad_window(self, http, departments, query, field):
        url = f"/api/v1/departments/{departments['呼吸内科']['id']}/calendar?{query}"
        body = error(http.get(url), 422, "validation_error")
        assert field in body["errors"]

    def test_a_window_may_start_a_year_ahead(self, http, departments):
        start = (TODAY + timedelta(days=366)).isoformat()
        url = f"/api/v1/departments/{departments['呼吸内科']['id']}/calendar?start={start}&days=14"
        days = http.get(url).json()
        assert [day["date"] for day in days][:1] == [start] and len(days) == 14
        assert {day["status"] for day in days} == {"none"}

    def test_unknown_department(self, http):
        error(http.get("/api/v1/departments/999999/calendar"), 404, "not_found")


class TestSchedules:
    def test_schedules_of_a_day_have_the_contract_fields(self, http, departments):
        department_id = departments["呼吸内科"]["id"]
        items = []
        for n in range(7):
            day = (TODAY + timedelta(days=n)).isoformat()
            items += ok(http.get(f"/api/v1/departments/{department_id}/schedules?date={day}"))
        assert items
        for item in items:
            assert set(item) >= {
                "id", "doctor", "period", "start_time", "end_time", "fee_fen",
                "total", "remaining", "status", "release_at",
            }  # fmt: skip
            assert set(item["doctor"]) >= {"id", "name", "title", "specialty"}
            assert item["release_at"].endswith("+08:00")
            assert isinstance(item["fee_fen"], int)

    def test_the_small_clinic_has_five_numbers(self, http, departments):
        week = self._week_of_schedules(http, departments["呼吸内科"]["id"])
        assert 5 in {item["total"] for item in week}

    def test_a_stopped_schedule_says_why(self, http, departments):
        items = self._week_of_schedules(http, departments["消化内科"]["id"])
        stopped = [i for i in items if i["status"] == "stopped"]
        assert stopped and all(i["remaining"] == 0 and i["stop_reason"] for i in stopped)

    @staticmethod
    def _week_of_schedules(http, department_id):
        items = []
        for n in range(8):
            day = (TODAY + timedelta(days=n)).isoformat()
            items += ok(http.get(f"/api/v1/departments/{department_id}/schedules?date={day}"))
        return items

    def test_date_is_required_and_must_be_a_date(self, http, departments):
        url = f"/api/v1/departments/{departments['呼吸内科']['id']}/schedules"
        assert "date" in error(http.get(url), 422, "validation_error")["errors"]
        assert "date" in error(http.get(url + "?date=11/22"), 422, "validation_error")["errors"]

    def test_a_day_with_nothing_is_an_empty_list(self, http, departments):
        url = f"/api/v1/departments/{departments['呼吸内科']['id']}/schedules?date=2099-01-01"
        assert ok(http.get(url)) == []


class TestDoctors:
    def test_doctor_page_and_schedules(self, http, departments):
        day = (TODAY + timedelta(days=1)).isoformat()
        items = ok(
            http.get(f"/api/v1/departments/{departments['骨科']['id']}/schedules?date={day}")
        )
        doctor_id = items[0]["doctor"]["id"]
        doctor = ok(http.get(f"/api/v1/doctors/{doctor_id}"))
        assert doctor["department"]["name"] == "骨科"
        assert doctor["title_name"] in {"主任医师", "副主任医师", "主治医师", "医师"}
        schedules = ok(http.get(f"/api/v1/doctors/{doctor_id}/schedules"))
        assert schedules and all(s["doctor"]["id"] == doctor_id for s in schedules)
        assert all(
            TODAY <= date.fromisoformat(s["date"]) < TODAY + timedelta(days=7) for s in schedules
        )

    def test_a_doctors_page_and_search_hit_show_the_doctor_its_department_and_hospital(
        self, served, http
    ):
        with served.app.app_context():
            hospital = make_hospital(name="页面测试医院")
            department = make_department(hospital, name="页面测试科")
            doctor = make_doctor(
                department,
                name="页面医生",
                title=DoctorTitle.CHIEF,
                specialty="罕见页面综合征",
                intro="从医三十年。",
                fee_fen=5000,
            )
            db.session.commit()
            ids = doctor.id, department.id, hospital.id
        doctor_id, department_id, hospital_id = ids
        page = {
            "id": doctor_id,
            "name": "页面医生",
            "title": "chief_physician",
            "title_name": "主任医师",
            "specialty": "罕见页面综合征",
            "intro": "从医三十年。",
            "fee_fen": 5000,
            "department": {
                "id": department_id,
                "name": "页面测试科",
                "hospital_id": hospital_id,
                "hospital_name": "页面测试医院",
            },
        }
        assert ok(http.get(f"/api/v1/doctors/{doctor_id}")) == page
        found = ok(http.get("/api/v1/search", params={"q": "罕见页面"}))["doctors"]
        assert found == [{key: value for key, value in page.items() if key != "intro"}]

    def test_unknown_doctor(self, http):
        error(http.get("/api/v1/doctors/999999"), 404, "not_found")
        error(http.get("/api/v1/doctors/999999/schedules"), 404, "not_found")

    def test_bad_doctor_window(self, http):
        error(http.get("/api/v1/doctors/1/schedules?days=99"), 422, "validation_error")
        body = error(
            http.get("/api/v1/doctors/1/schedules?start=9999-12-30&days=14"),
            422,
            "validation_error",
        )
        assert "start" in body["errors"]


class TestSearch:
    def test_symptom_finds_the_department(self, http):
        body = ok(http.get("/api/v1/search", params={"q": "咳嗽"}))
        respiratory = [d for d in body["departments"] if d["name"] == "呼吸内科"]
        assert respiratory and respiratory[0]["matched_symptoms"] == ["咳嗽"]

    def test_a_sentence_with_a_symptom_finds_the_department(self, http):
        body = ok(http.get("/api/v1/search", params={"q": "这几天老是牙痛"}))
        assert {d["name"] for d in body["departments"]} == {"口腔科"}

    def test_name_finds_hospital_department_and_doctor(self, http):
        assert ok(http.get("/api/v1/search", params={"q": "京华"}))["hospitals"]
        assert ok(http.get("/api/v1/search", params={"q": "骨科"}))["departments"]
        assert ok(http.get("/api/v1/search", params={"q": "关节置换"}))["doctors"]

    @pytest.mark.parametrize(
        "q",
        ["' OR 1=1 --", "%", "_", "\\", "<script>alert(1)</script>", "'; DROP TABLE hospital; --"],
    )
    def test_sql_and_html_fragments_find_nothing(self, http, q):
        body = ok(http.get("/api/v1/search", params={"q": q}))
        assert body == {"hospitals": [], "departments": [], "doctors": []}
        assert ok(http.get("/api/v1/hospitals", params={"q": q}))["total"] == 0

    def test_a_10000_character_query_is_refused_cleanly(self, http):
        # ASCII, so the URL fits the test server; gunicorn refuses request lines over 8190 bytes
        # (with a 400) before the app sees them, which is also never a 500.
        for url in ("/api/v1/search", "/api/v1/hospitals"):
            body = error(http.get(url, params={"q": "a" * 10_000}), 422, "validation_error")
            assert "q" in body["errors"]
        assert (
            "q"
            in error(http.get("/api/v1/search?q=" + "咳" * 51), 422, "validation_error")["errors"]
        )

    def test_missing_or_blank_query(self, http):
        error(http.get("/api/v1/search"), 422, "validation_error")
        assert ok(http.get("/api/v1/search", params={"q": "   "})) == {
            "hospitals": [],
            "departments": [],
            "doctors": [],
        }


class TestEnvelope:
    def test_unknown_path(self, http):
        error(http.get("/api/v1/no-such-thing"), 404, "not_found")

    def test_wrong_method(self, http):
        response = http.post("/api/v1/hospitals", json={})
        error(response, 405, "method_not_allowed")
        assert "GET" in response.headers["Allow"]

    def test_health(self, http):
        body = ok(http.get("/healthz"))
        assert body["checks"] == {"mysql": "ok", "redis": "ok"}


class TestCaching:
    """Every public catalogue answer is one cached document: ETag, 304, Cache-Control."""

    @pytest.mark.parametrize(
        "path, max_age",
        [
            ("/api/v1/hospitals?per_page=2", 60),
            ("/api/v1/search?q=咳嗽", 60),
            ("/api/v1/departments/{department}/calendar", 5),
            ("/api/v1/departments/{department}/schedules?date={today}", 5),
        ],
    )
    def test_an_answer_carries_its_etag_and_a_304_saves_sending_it(
        self, http, departments, path, max_age
    ):
        url = path.format(department=departments["呼吸内科"]["id"], today=TODAY)
        first = http.get(url)
        body = ok(first)
        etag = first.headers["ETag"]
        assert first.headers["Cache-Control"] == f"public, max-age={max_age}"
        again = http.get(url)
        assert (again.headers["ETag"], again.json()) == (etag, body)
        unchanged = http.get(url, headers={"If-None-Match": etag})
        assert (unchanged.status_code, unchanged.content) == (304, b"")
        assert unchanged.headers["ETag"] == etag
        other = http.get(url, headers={"If-None-Match": '"something-else"'})
        assert (other.status_code, other.json()) == (200, body)
        # A proxy that compressed the answer passed the tag on as weak; If-None-Match compares
        # weakly, so the client still gets its 304.
        weakened = http.get(url, headers={"If-None-Match": f'"other", W/{etag}'})
        assert (weakened.status_code, weakened.content) == (304, b"")

    def test_errors_are_neither_cached_nor_tagged(self, http):
        missing = http.get("/api/v1/hospitals/999999999")
        error(missing, 404, "not_found")
        assert "ETag" not in missing.headers
        assert "public" not in missing.headers.get("Cache-Control", "")

    def test_a_booking_changes_the_calendars_etag(self, http, phone, departments):
        from tests.e2e.clients import User, expect, hold, patient_of

        department = departments["呼吸内科"]["id"]
        days = ok(http.get(f"/api/v1/departments/{department}/calendar"))
        day = next(d for d in days if d["status"] == "available" and d["date"] > str(TODAY))
        schedules = ok(http.get(f"/api/v1/departments/{department}/schedules?date={day['date']}"))
        schedule = next(s for s in schedules if s["status"] == "available")
        url = f"/api/v1/departments/{department}/calendar?start={day['date']}&days=1"
        before = http.get(url)
        user = User(http, phone)
        expect(hold(user, schedule["id"], patient_of(user)), 201)
        after = http.get(url, headers={"If-None-Match": before.headers["ETag"]})
        assert after.status_code == 200
        assert after.headers["ETag"] != before.headers["ETag"]
        assert after.json()[0]["remaining"] == before.json()[0]["remaining"] - 1
