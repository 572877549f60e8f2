"""The admin's catalogue pages over HTTP (Flask's test client, the whole WSGI stack): a department's
eligibility, symptom keywords and location, a doctor's title, specialty and fee, a hospital's
booking rules and refund tiers — each saved, audited and seen at once in the public API (its
cache dropped), refused with the reason when invalid, out of scope as 404, closed to doctors."""

from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.extensions import db, redis_store
from app.models import AuditEntry, Department, Doctor, Hospital, Schedule
from tests import support
from tests.e2e.test_admin import hospital, signed_in  # noqa: F401 (the fixture is used by name)
from tests.factories import make_department, make_hospital


@pytest.fixture(scope="module")
def served():
    """The app on a database of its own, through Flask's test client (test_admin's hospital
    fixture builds on it)."""
    app = support.testing_app("_admin_catalogue", redis_offset=3)
    with app.app_context():
        redis_store.client.flushdb()
    return SimpleNamespace(app=app)


@pytest.fixture
def places(served, hospital):  # noqa: F811 (test_admin's fixture)
    """The departments and doctors of the hospital fixture's two schedules, and a department
    of another hospital."""
    with served.app.app_context():
        mine = db.session.get(Schedule, hospital.mine)
        theirs = db.session.get(Schedule, hospital.theirs)
        elsewhere = make_hospital()
        outside = make_department(elsewhere)
        db.session.commit()
        return SimpleNamespace(
            department=mine.department_id,
            doctor=mine.doctor_id,
            other_department=theirs.department_id,
            other_doctor=theirs.doctor_id,
            other_hospital=elsewhere.id,
            outside_department=outside.id,
        )


def _public(served, url, **query):
    answer = served.app.test_client().get(url, query_string=query)
    assert answer.status_code == 200, answer.text
    return answer.get_json()


def _node(tree, department_id):
    for node in tree:
        if node["id"] == department_id:
            return node
        found = _node(node["children"], department_id)
        if found:
            return found
    return None


def _audit(served, target_type, target_id):
    with served.app.app_context():
        return db.session.scalars(
            sa.select(AuditEntry)
            .where(AuditEntry.target_type == target_type, AuditEntry.target_id == target_id)
            .order_by(AuditEntry.id)
        ).all()


def _department_form(**changes):
    return {
        "sex_rule": "female",
        "min_age": "18",
        "max_age": "60",
        "symptoms": "咳嗽, 发热、咳嗽 ，<b>痛</b>",
        "location": "门诊楼 3 层",
    } | changes


class TestDepartments:
    def test_the_list_shows_the_departments_in_scope(self, served, hospital, places):  # noqa: F811
        page = signed_in(served, hospital, "department").get("/admin/departments")
        assert page.status_code == 200
        assert f'href="/admin/departments/{places.department}"' in page.text
        assert f"/admin/departments/{places.other_department}" not in page.text
        everyone = signed_in(served, hospital, "hospital").get("/admin/departments").text
        assert f"/admin/departments/{places.other_department}" in everyone
        assert f"/admin/departments/{places.outside_department}" not in everyone
        platform = signed_in(served, hospital, "platform").get("/admin/departments").text
        assert f"/admin/departments/{places.outside_department}" in platform

    def test_a_change_is_saved_audited_and_seen_by_patients_at_once(
        self,
        served,
        hospital,  # noqa: F811
        places,
    ):
        tree_url = f"/api/v1/hospitals/{hospital.id}/departments"
        before = _node(_public(served, tree_url), places.department)  # now cached
        assert before["eligibility"] == {"sex": "any", "min_age": None, "max_age": None}
        browser = signed_in(served, hospital, "department")
        url = f"/admin/departments/{places.department}"
        browser.get(url)
        saved = browser.post(url, _department_form(), htmx=False)
        assert saved.status_code == 200 and "已保存" in saved.text
        assert "<b>痛</b>" not in saved.text and "&lt;b&gt;痛&lt;/b&gt;" in saved.text
        after = _node(_public(served, tree_url), places.department)
        assert after["eligibility"] == {"sex": "female", "min_age": 18, "max_age": 60}
        assert after["symptoms"] == ["咳嗽", "发热", "<b>痛</b>"]
        assert after["location"] == "门诊楼 3 层"
        found = _public(served, "/api/v1/search", q="发热")["departments"]
        assert places.department in [hit["id"] for hit in found]
        (entry,) = _audit(served, "department", places.department)
        assert entry.action == "change_department"
        assert entry.actor == hospital.staff["department"]
        assert (entry.before["sex_rule"], entry.after["sex_rule"]) == ("any", "female")
        assert entry.after["symptoms"] == "咳嗽、发热、<b>痛</b>"
        listed = browser.get("/admin/departments").text
        assert "<b>痛</b>" not in listed and "&lt;b&gt;痛&lt;/b&gt;" in listed

    @pytest.mark.parametrize(
        ("changes", "reason"),
        [
            ({"min_age": "60", "max_age": "18"}, "最小年龄不能大于最大年龄"),
            ({"max_age": "151"}, "年龄须为 0–150 岁"),
            ({"min_age": "-1"}, "年龄须为 0–150 岁"),
            ({"min_age": "十八"}, "年龄须为整数"),
            ({"sex_rule": "other"}, "请选择性别限制"),
            ({"symptoms": "咳嗽、" + "很" * 21}, "每个症状关键词最多 20 个字"),
            ({"location": "楼" * 101}, "位置最多 100 个字"),
        ],
    )
    def test_invalid_values_are_refused_with_the_reason(
        self,
        served,
        hospital,  # noqa: F811
        places,
        changes,
        reason,
    ):
        browser = signed_in(served, hospital, "hospital")
        url = f"/admin/departments/{places.department}"
        browser.get(url)
        refused = browser.post(url, _department_form(**changes), htmx=False)
        assert refused.status_code == 422 and reason in refused.text
        with served.app.app_context():
            department = db.session.get(Department, places.department)
            assert (department.sex_rule, department.min_age) == ("any", None)
        assert _audit(served, "department", places.department) == []

    def test_blank_ages_mean_no_limit(self, served, hospital, places):  # noqa: F811
        browser = signed_in(served, hospital, "hospital")
        url = f"/admin/departments/{places.department}"
        browser.get(url)
        form = _department_form(min_age="", max_age=" 14 ", sex_rule="any", symptoms="")
        assert browser.post(url, form, htmx=False).status_code == 200
        with served.app.app_context():
            department = db.session.get(Department, places.department)
            assert (department.min_age, department.max_age, department.symptoms) == (None, 14, "")

    def test_another_departments_or_hospitals_department_is_not_found(
        self,
        served,
        hospital,  # noqa: F811
        places,
    ):
        browser = signed_in(served, hospital, "department")
        browser.get("/admin/departments")
        for department_id in (places.other_department, places.outside_department):
            url = f"/admin/departments/{department_id}"
            assert browser.get(url).status_code == 404
            assert browser.post(url, _department_form(), htmx=False).status_code == 404
        admin = signed_in(served, hospital, "hospital")
        url = f"/admin/departments/{places.outside_department}"
        assert admin.get(url).status_code == 404
        assert admin.post(url, _department_form(), htmx=False).status_code == 404
        assert _audit(served, "department", places.outside_department) == []

    def test_doctors_may_not_open_or_change_departments(
        self,
        served,
        hospital,  # noqa: F811
        places,
    ):
        browser = signed_in(served, hospital, "doctor")
        url = f"/admin/departments/{places.department}"
        assert browser.get("/admin/departments").status_code == 403
        assert browser.get(url).status_code == 403
        assert browser.post(url, _department_form(), htmx=False).status_code == 403
        assert _audit(served, "department", places.department) == []


class TestDoctors:
    def test_a_change_is_saved_audited_and_seen_by_patients_at_once(
        self,
        served,
        hospital,  # noqa: F811
        places,
    ):
        doctor_url = f"/api/v1/doctors/{places.doctor}"
        assert _public(served, doctor_url)["title"] == "attending_physician"  # now cached
        browser = signed_in(served, hospital, "department")
        department = browser.get(f"/admin/departments/{places.department}")
        assert f'href="/admin/doctors/{places.doctor}"' in department.text
        url = f"/admin/doctors/{places.doctor}"
        browser.get(url)
        form = {"title": "chief_physician", "specialty": "<i>哮喘</i>", "fee": "35.5"}
        saved = browser.post(url, form, htmx=False)
        assert saved.status_code == 200 and "已保存" in saved.text
        assert "<i>哮喘</i>" not in saved.text and "&lt;i&gt;哮喘&lt;/i&gt;" in saved.text
        shown = _public(served, doctor_url)
        assert (shown["title"], shown["specialty"], shown["fee_fen"]) == (
            "chief_physician",
            "<i>哮喘</i>",
            3550,
        )
        with served.app.app_context():
            schedule = db.session.get(Schedule, hospital.mine)
            assert schedule.fee_fen == 0  # schedules already made keep their fee
        (entry,) = _audit(served, "doctor", places.doctor)
        assert entry.action == "change_doctor"
        assert entry.before == {
            "title": "attending_physician",
            "specialty": "常见病",
            "fee_fen": 2000,
        }
        assert entry.after["fee_fen"] == 3550
        assert entry.hospital_id == hospital.id

    @pytest.mark.parametrize(
        ("changes", "reason"),
        [
            ({"fee": "-1"}, "请填写金额（元），最多两位小数"),
            ({"fee": "1.234"}, "请填写金额（元），最多两位小数"),
            ({"fee": "abc"}, "请填写金额（元），最多两位小数"),
            ({"title": "professor"}, "请选择职称"),
            ({"specialty": "长" * 201}, "擅长最多 200 个字"),
        ],
    )
    def test_invalid_values_are_refused_with_the_reason(
        self,
        served,
        hospital,  # noqa: F811
        places,
        changes,
        reason,
    ):
        browser = signed_in(served, hospital, "hospital")
        url = f"/admin/doctors/{places.doctor}"
        browser.get(url)
        form = {"title": "chief_physician", "specialty": "哮喘", "fee": "10"} | changes
        refused = browser.post(url, form, htmx=False)
        assert refused.status_code == 422 and reason in refused.text
        with served.app.app_context():
            assert db.session.get(Doctor, places.doctor).fee_fen == 2000
        assert _audit(served, "doctor", places.doctor) == []

    def test_a_doctor_sees_their_own_page_but_cannot_change_it(
        self,
        served,
        hospital,  # noqa: F811
        places,
    ):
        browser = signed_in(served, hospital, "doctor")
        url = f"/admin/doctors/{places.doctor}"
        page = browser.get(url)
        assert page.status_code == 200 and "¥20.00" in page.text
        assert 'name="fee"' not in page.text
        form = {"title": "chief_physician", "specialty": "x", "fee": "0"}
        assert browser.post(url, form, htmx=False).status_code == 403
        assert browser.get(f"/admin/doctors/{places.other_doctor}").status_code == 404
        assert _audit(served, "doctor", places.doctor) == []

    def test_another_departments_doctor_is_not_found(self, served, hospital, places):  # noqa: F811
        browser = signed_in(served, hospital, "department")
        url = f"/admin/doctors/{places.other_doctor}"
        browser.get("/admin/departments")
        assert browser.get(url).status_code == 404
        form = {"title": "chief_physician", "specialty": "x", "fee": "0"}
        assert browser.post(url, form, htmx=False).status_code == 404


def _rules_form(**changes):
    return {
        "release_time": "08:30",
        "booking_window_days": "14",
        "hold_minutes": "20",
        "tier_hours": ["48", "4", "0", ""],
        "tier_percent": ["0", "50", "", ""],
    } | changes


class TestHospitalRules:
    def test_a_change_is_saved_audited_and_seen_by_patients_at_once(
        self,
        served,
        hospital,  # noqa: F811
        places,
    ):
        hospital_url = f"/api/v1/hospitals/{hospital.id}"
        assert _public(served, hospital_url)["booking_rules"]["hold_minutes"] == 15  # cached
        browser = signed_in(served, hospital, "hospital")
        page = browser.get("/admin/hospital")
        assert page.status_code == 200 and 'value="07:00"' in page.text
        assert 'name="tier_hours" inputmode="decimal" value="24"' in page.text
        saved = browser.post("/admin/hospital", _rules_form(), htmx=False)
        assert saved.status_code == 200 and "已保存" in saved.text
        assert _public(served, hospital_url)["booking_rules"] == {
            "release_time": "08:30",
            "booking_window_days": 14,
            "hold_minutes": 20,
        }
        with served.app.app_context():
            assert db.session.get(Hospital, hospital.id).refund_tiers == "48:0,4:50,0:none"
        (entry,) = _audit(served, "hospital", hospital.id)
        assert entry.action == "change_hospital_rules"
        assert entry.before["refund_tiers"] == "24:0,2:20,0:none"
        assert entry.after == {
            "release_time": "08:30",
            "booking_window_days": 14,
            "hold_minutes": 20,
            "refund_tiers": "48:0,4:50,0:none",
        }

    @pytest.mark.parametrize(
        ("changes", "reason"),
        [
            ({"booking_window_days": "61"}, "可预约天数须为 1–60 天"),
            ({"booking_window_days": "0"}, "可预约天数须为 1–60 天"),
            ({"hold_minutes": "121"}, "锁号时长须为 1–120 分钟"),
            ({"release_time": "25:00"}, "放号时间须为 HH:MM"),
            ({"tier_hours": ["4", "4", "0"], "tier_percent": ["0", "10", ""]}, "小时数不能重复"),
            ({"tier_hours": ["4", "0"], "tier_percent": ["101", ""]}, "手续费比例须为 0–100"),
            ({"tier_hours": ["-2", "0"], "tier_percent": ["0", ""]}, "小时数须为 0–1440"),
            ({"tier_hours": ["24", "2"], "tier_percent": ["0", "20"]}, "须有一档从 0 小时起"),
            ({"tier_hours": ["", ""], "tier_percent": ["", ""]}, "请至少填写一档退款规则"),
            ({"tier_hours": ["abc", "0"], "tier_percent": ["0", ""]}, "小时数须为数字"),
        ],
    )
    def test_invalid_rules_are_refused_with_the_reason(
        self,
        served,
        hospital,  # noqa: F811
        places,
        changes,
        reason,
    ):
        browser = signed_in(served, hospital, "hospital")
        browser.get("/admin/hospital")
        refused = browser.post("/admin/hospital", _rules_form(**changes), htmx=False)
        assert refused.status_code == 422 and reason in refused.text
        with served.app.app_context():
            row = db.session.get(Hospital, hospital.id)
            assert (row.booking_window_days, row.refund_tiers) == (7, "24:0,2:20,0:none")
        assert _audit(served, "hospital", hospital.id) == []

    def test_another_hospital_is_not_found_and_the_platform_picks_one(
        self,
        served,
        hospital,  # noqa: F811
        places,
    ):
        browser = signed_in(served, hospital, "hospital")
        other = f"/admin/hospital?id={places.other_hospital}"
        assert browser.get(other).status_code == 404
        assert browser.post(other, _rules_form(), htmx=False).status_code == 404
        assert _audit(served, "hospital", places.other_hospital) == []
        platform = signed_in(served, hospital, "platform")
        picker = platform.get("/admin/hospital")
        assert f'href="/admin/hospital?id={places.other_hospital}"' in picker.text
        assert platform.get(other).status_code == 200
        assert platform.post(other, _rules_form(), htmx=False).status_code == 200
        with served.app.app_context():
            assert db.session.get(Hospital, places.other_hospital).hold_minutes == 20

    @pytest.mark.parametrize("role", ["department", "doctor"])
    def test_departments_and_doctors_may_not_change_the_rules(
        self,
        served,
        hospital,  # noqa: F811
        role,
    ):
        browser = signed_in(served, hospital, role)
        assert browser.get("/admin/hospital").status_code == 403
        assert browser.post("/admin/hospital", _rules_form(), htmx=False).status_code == 403
        assert _audit(served, "hospital", hospital.id) == []


def test_names_are_escaped_on_the_catalogue_pages(served, hospital, places):  # noqa: F811
    with served.app.app_context():
        db.session.get(Department, places.department).name = "<b>内科</b>"
        db.session.get(Doctor, places.doctor).name = "<b>王</b>"
        db.session.get(Hospital, hospital.id).name = "<b>医院</b>"
        db.session.commit()
    browser = signed_in(served, hospital, "hospital")
    for url, name in (
        ("/admin/departments", "<b>内科</b>"),
        (f"/admin/departments/{places.department}", "<b>王</b>"),
        (f"/admin/doctors/{places.doctor}", "<b>王</b>"),
        ("/admin/hospital", "<b>医院</b>"),
    ):
        page = browser.get(url).text
        escaped = name.replace("<", "&lt;").replace(">", "&gt;")
        assert name not in page and escaped in page, url
