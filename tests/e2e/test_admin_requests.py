"""The week's plan over HTTP (Flask's test client, as test_admin.py): weekly templates make the
coming schedules once, within the booking window; doctors' stop and change requests flow from
pending to approved or refused, scoped and by role, each change carrying the CSRF token."""

from datetime import time, timedelta

import pytest
import sqlalchemy as sa

from app.domain.orders import OrderStatus
from app.domain.planning import RequestStatus
from app.domain.staff import Scope
from app.extensions import db
from app.models import (
    AuditEntry,
    Doctor,
    Hospital,
    Order,
    Schedule,
    ScheduleRequest,
    ScheduleTemplate,
)
from app.services import schedule_templates
from app.services import staff as staff_service
from tests.e2e import test_admin
from tests.e2e.test_admin import PASSWORD, TODAY, Browser, _times_of, signed_in
from tests.factories import make_hospital, make_schedule
from workers import cron, templates

# test_admin's fixtures: its app on its database, its hospital with a staff member per role, and
# tomorrow's clinic with two numbers booked.
served, hospital, tomorrow = test_admin.served, test_admin.hospital, test_admin.tomorrow


def _doctor_of(served, schedule_id) -> tuple[int, int]:
    with served.app.app_context():
        schedule = db.session.get(Schedule, schedule_id)
        return schedule.doctor_id, schedule.department_id


def _dates_of(served, doctor_id, period="afternoon"):
    with served.app.app_context():
        return sorted(
            db.session.scalars(
                sa.select(Schedule.date).where(
                    Schedule.doctor_id == doctor_id, Schedule.period == period
                )
            ).all()
        )


def _add_templates(served, doctor_id, weekdays, period="afternoon", capacity=6):
    with served.app.app_context():
        for weekday in weekdays:
            schedule_templates.add_template(
                Scope(), doctor_id, weekday, period, time(14, 0), time(17, 0), capacity
            )


class TestTemplates:
    def test_the_job_is_declared_hourly(self):
        (job,) = [job for job in cron.PERIODIC if job.name == "generate-schedules"]
        assert (job.func, job.interval) == (templates.generate_schedules, cron.HOUR)

    def test_a_template_added_on_the_page_generates_its_schedules_once(self, served, hospital):
        doctor_id, department_id = _doctor_of(served, hospital.mine)
        weekday = (TODAY + timedelta(days=2)).weekday()
        browser = signed_in(served, hospital, "department")
        browser.get(f"/admin/templates?department={department_id}")
        form = {
            "department": department_id,
            "doctor_id": doctor_id,
            "weekday": weekday,
            "period": "afternoon",
            "start_time": "14:00",
            "end_time": "17:00",
            "capacity": "6",
        }
        assert browser.post("/admin/templates", form, htmx=False).status_code == 302
        again = browser.post("/admin/templates", form, htmx=False)
        assert again.status_code == 409 and "已有排班模板" in again.text
        page = browser.get(f"/admin/templates?department={department_id}")
        assert page.status_code == 200 and "立即生成" in page.text
        made = browser.post("/admin/templates/generate", {"department": department_id})
        expected = [
            TODAY + timedelta(days=n)
            for n in range(1, 9)  # the hospital's window of 7 days, plus one
            if (TODAY + timedelta(days=n)).weekday() == weekday
        ]
        assert made.status_code == 200 and f"已生成 {len(expected)} 个出诊" in made.text
        assert _dates_of(served, doctor_id) == expected
        with served.app.app_context():
            again = templates.generate_schedules()  # the hourly job, as cron runs it
            schedule = db.session.scalar(
                sa.select(Schedule).where(
                    Schedule.doctor_id == doctor_id, Schedule.date == expected[0]
                )
            )
            slots = len(schedule.slots)
            actor = db.session.scalar(
                sa.select(AuditEntry.actor).where(
                    AuditEntry.action == "create_schedule", AuditEntry.target_id == schedule.id
                )
            )
        assert _dates_of(served, doctor_id) == expected  # the second run made nothing more
        assert again == 0
        assert (schedule.capacity, slots, actor) == (6, 6, "system")

    def test_an_existing_schedule_is_skipped_and_the_window_is_respected(self, served, hospital):
        doctor_id, department_id = _doctor_of(served, hospital.mine)
        with served.app.app_context():
            db.session.get(Hospital, hospital.id).booking_window_days = 3
            existing = make_schedule(
                db.session.get(Doctor, doctor_id),
                on=TODAY + timedelta(days=2),
                period="afternoon",
                capacity=3,
            ).id
            db.session.commit()
        _add_templates(served, doctor_id, range(7))
        with served.app.app_context():
            made = schedule_templates.generate_from_templates(department_id=department_id)
            again = schedule_templates.generate_from_templates(department_id=department_id)
            kept = db.session.get(Schedule, existing).capacity
        window = [TODAY + timedelta(days=n) for n in range(1, 5)]  # 3 days, plus one
        assert _dates_of(served, doctor_id) == window
        assert (len(made), again, kept) == (3, [], 3)

    def test_a_deactivated_template_makes_nothing(self, served, hospital):
        doctor_id, department_id = _doctor_of(served, hospital.mine)
        _add_templates(served, doctor_id, range(7))
        with served.app.app_context():
            ids = db.session.scalars(
                sa.select(ScheduleTemplate.id).where(ScheduleTemplate.doctor_id == doctor_id)
            ).all()
        browser = signed_in(served, hospital, "hospital")
        browser.get(f"/admin/templates?department={department_id}")
        for template_id in ids:
            answer = browser.post(f"/admin/templates/{template_id}/deactivate", htmx=False)
            assert answer.status_code == 302
        with served.app.app_context():
            made = schedule_templates.generate_from_templates(department_id=department_id)
            audits = db.session.execute(
                sa.select(AuditEntry.target_id, AuditEntry.hospital_id, AuditEntry.after)
                .where(
                    AuditEntry.action == "deactivate_schedule_template",
                    AuditEntry.target_type == "schedule_template",
                )
                .where(AuditEntry.target_id.in_(ids))
                .order_by(AuditEntry.target_id)
            ).all()
        assert made == []
        assert audits == [
            (template_id, hospital.id, {"doctor": doctor_id, "active": False})
            for template_id in sorted(ids)
        ]

    def test_a_doctor_is_refused_and_another_department_is_not_found(self, served, hospital):
        theirs, their_department = _doctor_of(served, hospital.theirs)
        _add_templates(served, theirs, [0])
        with served.app.app_context():
            template_id = db.session.scalar(
                sa.select(ScheduleTemplate.id).where(ScheduleTemplate.doctor_id == theirs)
            )
        doctor = signed_in(served, hospital, "doctor")
        assert doctor.get("/admin/templates").status_code == 403
        department = signed_in(served, hospital, "department")
        assert department.get(f"/admin/templates?department={their_department}").status_code == 404
        refused = department.post(f"/admin/templates/{template_id}/deactivate", htmx=False)
        assert refused.status_code == 404
        generate = department.post("/admin/templates/generate", {"department": their_department})
        assert generate.status_code == 404
        assert department.post("/admin/templates", {}, token=False).status_code == 400


def _request(browser, schedule_id, **form):
    browser.get(f"/admin/schedules/{schedule_id}/request")
    return browser.post(f"/admin/schedules/{schedule_id}/request", form, htmx=False)


def _pending_id(served, schedule_id):
    with served.app.app_context():
        return db.session.scalar(
            sa.select(ScheduleRequest.id).where(ScheduleRequest.pending_schedule_id == schedule_id)
        )


class TestRequests:
    def test_a_stop_request_approved_stops_the_clinic_and_cancels_its_orders(
        self, served, hospital
    ):
        doctor = signed_in(served, hospital, "doctor")
        made = _request(doctor, hospital.mine, kind="stop", reason="外出会诊")
        assert made.status_code == 200 and "申请已提交" in made.text
        second = _request(doctor, hospital.mine, kind="change", capacity="12", reason="再来")
        assert second.status_code == 409 and "已有待审批的申请" in second.text
        admin = signed_in(served, hospital, "department")
        listed = admin.get("/admin/requests")
        assert listed.status_code == 200 and "外出会诊" in listed.text
        request_id = _pending_id(served, hospital.mine)
        assert doctor.post(f"/admin/requests/{request_id}/approve").status_code == 403
        approved = admin.post(f"/admin/requests/{request_id}/approve", htmx=False)
        assert approved.status_code == 200 and "已批准并停诊：取消 2 个挂号" in approved.text
        twice = admin.post(f"/admin/requests/{request_id}/approve", htmx=False)
        assert twice.status_code == 409
        with served.app.app_context():
            schedule = db.session.get(Schedule, hospital.mine)
            decided = db.session.get(ScheduleRequest, request_id)
            statuses = {db.session.get(Order, o.id).status for o in hospital.orders}
            on_schedule = db.session.scalars(
                sa.select(AuditEntry.action)
                .where(AuditEntry.target_type == "schedule", AuditEntry.target_id == schedule.id)
                .order_by(AuditEntry.id)
            ).all()
            on_request = db.session.execute(
                sa.select(AuditEntry.action, AuditEntry.hospital_id, AuditEntry.after)
                .where(
                    AuditEntry.target_type == "schedule_request",
                    AuditEntry.target_id == request_id,
                )
                .order_by(AuditEntry.id)
            ).all()
        assert (schedule.status, schedule.stop_reason) == ("stopped", "外出会诊")
        assert statuses == {OrderStatus.CANCELLED}
        assert (decided.status, decided.pending_schedule_id) == (RequestStatus.APPROVED, None)
        assert on_schedule == ["stop_clinic"]
        assert [(action, place) for action, place, _ in on_request] == [
            ("request_stop", hospital.id),
            ("approve_request", hospital.id),
        ]
        assert [after["schedule"] for _, _, after in on_request] == [schedule.id, schedule.id]

    def test_a_change_request_approved_changes_the_capacity(self, served, hospital):
        doctor = signed_in(served, hospital, "doctor")
        assert _request(doctor, hospital.mine, kind="change", reason="加号").status_code == 422
        made = _request(doctor, hospital.mine, kind="change", capacity="15", reason="加号")
        assert made.status_code == 200
        admin = signed_in(served, hospital, "hospital")
        admin.get("/admin/requests")
        request_id = _pending_id(served, hospital.mine)
        approved = admin.post(f"/admin/requests/{request_id}/approve", htmx=False)
        assert approved.status_code == 200 and "号源数调整为 15" in approved.text
        with served.app.app_context():
            schedule = db.session.get(Schedule, hospital.mine)
            assert (schedule.capacity, len(schedule.slots)) == (15, 15)

    def test_a_change_of_times_approved_moves_the_clinic_and_its_numbers(
        self, served, hospital, tomorrow
    ):
        doctor = signed_in(served, hospital, "doctor")
        form = {"kind": "change", "reason": "上午会诊", "start_time": "09:00"}
        made = _request(doctor, tomorrow.id, **form)
        assert made.status_code == 200 and "申请已提交" in made.text
        assert "（时间 09:00–12:00）" in made.text  # the end asked for is the present one
        admin = signed_in(served, hospital, "department")
        listed = admin.get("/admin/requests")
        assert "时间 08:00–12:00 → 09:00–12:00" in listed.text
        request_id = _pending_id(served, tomorrow.id)
        approved = admin.post(f"/admin/requests/{request_id}/approve", htmx=False)
        assert approved.status_code == 200
        assert "已批准：出诊时间调整为 09:00–12:00" in approved.text
        schedule, _, orders = _times_of(served, tomorrow.id)
        assert schedule == ("09:00", "12:00", 18)
        assert orders == [(1, "09:00"), (2, "09:18")]
        with served.app.app_context():
            kept = db.session.get(ScheduleRequest, request_id)
            assert (kept.start_time, kept.end_time) == (time(9, 0), time(12, 0))
            asked = db.session.scalar(
                sa.select(AuditEntry.after).where(
                    AuditEntry.action == "request_change",
                    AuditEntry.target_type == "schedule_request",
                    AuditEntry.target_id == request_id,
                )
            )
            changed = db.session.execute(
                sa.select(AuditEntry.actor, AuditEntry.before, AuditEntry.after).where(
                    AuditEntry.action == "change_schedule", AuditEntry.target_id == tomorrow.id
                )
            ).one()
        assert (asked["start_time"], asked["end_time"], asked["capacity"]) == (
            "09:00",
            "12:00",
            None,
        )
        assert changed.actor == hospital.staff["department"]
        assert (changed.before["start_time"], changed.after["start_time"]) == ("08:00", "09:00")

    def test_capacity_and_times_together_in_one_request(self, served, hospital, tomorrow):
        doctor = signed_in(served, hospital, "doctor")
        form = {"kind": "change", "reason": "调整", "capacity": "6"}
        made = _request(doctor, tomorrow.id, **form, start_time="10:00", end_time="13:00")
        assert made.status_code == 200
        admin = signed_in(served, hospital, "hospital")
        admin.get("/admin/requests")
        approved = admin.post(f"/admin/requests/{_pending_id(served, tomorrow.id)}/approve")
        assert "已批准：号源数调整为 6，出诊时间调整为 10:00–13:00" in approved.text
        schedule, slots, _ = _times_of(served, tomorrow.id)
        assert schedule == ("10:00", "13:00", 30) and len(slots) == 6

    @pytest.mark.parametrize(
        ("form", "reason"),
        [
            ({"start_time": "12:00", "end_time": "09:00"}, "结束时间须晚于开始时间"),
            ({"start_time": "08:00", "end_time": "12:00"}, "请填写新的号源数或新的出诊时间"),
            ({"capacity": "10"}, "请填写新的号源数或新的出诊时间"),
            ({"end_time": "25:00"}, "end_time 格式不正确"),
        ],
    )
    def test_a_change_asking_nothing_new_or_bad_times_is_refused(
        self, served, hospital, tomorrow, form, reason
    ):
        doctor = signed_in(served, hospital, "doctor")
        refused = _request(doctor, tomorrow.id, kind="change", reason="调整", **form)
        assert refused.status_code == 422 and reason in refused.text
        assert _pending_id(served, tomorrow.id) is None

    def test_an_approval_that_would_bring_a_patient_forward_is_refused_and_stays_pending(
        self, served, hospital, tomorrow
    ):
        doctor = signed_in(served, hospital, "doctor")
        _request(doctor, tomorrow.id, kind="change", reason="提前", start_time="07:00")
        admin = signed_in(served, hospital, "department")
        admin.get("/admin/requests")
        request_id = _pending_id(served, tomorrow.id)
        refused = admin.post(f"/admin/requests/{request_id}/approve", htmx=False)
        assert refused.status_code == 422
        assert "1 号已有患者预约，调整后其建议就诊时间将由 08:00 提前到 07:00" in refused.text
        assert _pending_id(served, tomorrow.id) == request_id
        assert _times_of(served, tomorrow.id)[0] == ("08:00", "12:00", 10)
        refusal = admin.post(f"/admin/requests/{request_id}/refuse", {"note": "请改约"})
        assert refusal.status_code == 200 and _pending_id(served, tomorrow.id) is None

    def test_a_refused_request_needs_a_note_and_frees_the_schedule_for_another(
        self, served, hospital
    ):
        doctor = signed_in(served, hospital, "doctor")
        _request(doctor, hospital.mine, kind="stop", reason="私事")
        admin = signed_in(served, hospital, "department")
        admin.get("/admin/requests")
        request_id = _pending_id(served, hospital.mine)
        bare = admin.post(f"/admin/requests/{request_id}/refuse", {"note": " "}, htmx=False)
        assert bare.status_code == 422
        refused = admin.post(f"/admin/requests/{request_id}/refuse", {"note": "人手不足"})
        assert refused.status_code == 200 and "已驳回" in refused.text
        with served.app.app_context():
            decided = db.session.get(ScheduleRequest, request_id)
            schedule = db.session.get(Schedule, hospital.mine)
        assert (decided.status, decided.note) == (RequestStatus.REFUSED, "人手不足")
        assert schedule.status == "open"
        page = doctor.get(f"/admin/schedules/{hospital.mine}/request")
        assert "已驳回" in page.text and "人手不足" in page.text
        assert _request(doctor, hospital.mine, kind="stop", reason="再申请").status_code == 200

    def test_scope_role_and_csrf_refusals(self, served, hospital):
        doctor = signed_in(served, hospital, "doctor")
        assert doctor.get(f"/admin/schedules/{hospital.theirs}/request").status_code == 404
        other = signed_in(served, hospital, "other_doctor")
        assert _request(other, hospital.mine, kind="stop", reason="x").status_code == 404
        admin = signed_in(served, hospital, "department")
        assert _request(admin, hospital.mine, kind="stop", reason="x").status_code == 403
        assert doctor.get("/admin/requests").status_code == 403
        no_token = doctor.post(
            f"/admin/schedules/{hospital.mine}/request",
            {"kind": "stop", "reason": "x"},
            token=False,
        )
        assert no_token.status_code == 400
        _request(other, hospital.theirs, kind="stop", reason="外出")
        request_id = _pending_id(served, hospital.theirs)
        assert admin.post(f"/admin/requests/{request_id}/approve").status_code == 404
        assert admin.post(f"/admin/requests/{request_id}/refuse", {"note": "x"}).status_code == 404
        assert "外出" not in admin.get("/admin/requests").text
        with served.app.app_context():
            department_id = db.session.get(Schedule, hospital.theirs).department_id
            name = f"dept2-{hospital.theirs}"
            staff_service.create_staff(
                name, PASSWORD, "department_admin", department_id=department_id
            )
        theirs = Browser(served.app)
        assert theirs.login(name).status_code == 302
        assert "外出" in theirs.get("/admin/requests").text
        answer = theirs.post(f"/admin/requests/{request_id}/refuse", {"note": "不批"}, token=False)
        assert answer.status_code == 400
        with served.app.app_context():
            assert db.session.get(ScheduleRequest, request_id).status == RequestStatus.PENDING


class TestAuditedRows:
    def test_template_and_request_entries_name_their_rows_and_reach_the_right_admins(
        self, served, hospital
    ):
        doctor_id, department_id = _doctor_of(served, hospital.mine)
        admin = signed_in(served, hospital, "department")
        admin.get(f"/admin/templates?department={department_id}")
        form = {
            "doctor_id": doctor_id,
            "weekday": 3,
            "period": "evening",
            "start_time": "18:00",
            "end_time": "20:00",
            "capacity": "8",
        }
        assert admin.post("/admin/templates", form, htmx=False).status_code == 302
        doctor = signed_in(served, hospital, "doctor")
        assert _request(doctor, hospital.mine, kind="stop", reason="进修").status_code == 200
        request_id = _pending_id(served, hospital.mine)
        with served.app.app_context():
            template_id = db.session.scalar(
                sa.select(ScheduleTemplate.id).where(
                    ScheduleTemplate.doctor_id == doctor_id, ScheduleTemplate.weekday == 3
                )
            )
            other = make_hospital()
            db.session.commit()
            outsider = f"outsider-{hospital.mine}"
            staff_service.create_staff(outsider, PASSWORD, "hospital_admin", hospital_id=other.id)
        reader = signed_in(served, hospital, "hospital")
        theirs = Browser(served.app)
        assert theirs.login(outsider).status_code == 302
        for action, row in (
            ("create_schedule_template", f"schedule_template {template_id}"),
            ("request_stop", f"schedule_request {request_id}"),
        ):
            mine = reader.get("/admin/audit", query_string={"action": action})
            assert row in mine.text, action
            assert "没有记录" in theirs.get("/admin/audit", query_string={"action": action}).text
