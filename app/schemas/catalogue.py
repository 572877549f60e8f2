"""Schemas of the catalogue: hospitals, departments, doctors, schedules, calendar, search."""

import marshmallow as ma
from marshmallow import validate

from app.domain.enums import Availability, DoctorTitle, HospitalLevel, Period, SexRule
from app.schemas.common import ChinaDateTime, PageArgs, Text, page_schema

QUERY_MAX = 50


def _query_field(**kwargs):
    return Text(validate=validate.Length(max=QUERY_MAX), **kwargs)


class HospitalQuery(PageArgs):
    """Filters of the hospital list."""

    q = _query_field(metadata={"description": "医院名称关键字"})
    level = ma.fields.Enum(HospitalLevel, by_value=True)
    region = Text(validate=validate.Length(max=32))


class HospitalSchema(ma.Schema):
    """A hospital in lists."""

    id = ma.fields.Integer()
    name = ma.fields.String()
    level = ma.fields.Enum(HospitalLevel, by_value=True)
    level_name = ma.fields.Function(lambda h: HospitalLevel(h.level).label)
    region = ma.fields.String()
    district = ma.fields.String()
    address = ma.fields.String()
    phone = ma.fields.String()


class BookingRulesSchema(ma.Schema):
    """A hospital's booking rules as patients see them."""

    release_time = ma.fields.Time(format="%H:%M")
    booking_window_days = ma.fields.Integer()
    hold_minutes = ma.fields.Integer()


class HospitalDetailSchema(HospitalSchema):
    """A hospital's own page."""

    intro = ma.fields.String()
    booking_rules = ma.fields.Function(lambda h: BookingRulesSchema().dump(h))


class EligibilitySchema(ma.Schema):
    """Who a department sees: sex (any/female/male) and an age range in whole years."""

    sex = ma.fields.Enum(SexRule, by_value=True)
    min_age = ma.fields.Integer(allow_none=True)
    max_age = ma.fields.Integer(allow_none=True)


class DepartmentNodeSchema(ma.Schema):
    """A department in its hospital's tree."""

    id = ma.fields.Integer()
    name = ma.fields.String()
    parent_id = ma.fields.Integer(allow_none=True)
    intro = ma.fields.String()
    location = ma.fields.String()
    eligibility = ma.fields.Nested(EligibilitySchema)
    symptoms = ma.fields.List(ma.fields.String())
    children = ma.fields.List(ma.fields.Nested(lambda: DepartmentNodeSchema()))


class CalendarQuery(ma.Schema):
    """?start=YYYY-MM-DD&days=7"""

    # A static schema cannot compare with today: the description says it, and the answer is a
    # 422 naming start (a calendar of days gone by would show numbers no one can book).
    start = ma.fields.Date(
        metadata={
            "description": "默认今天（北京时间）；不能早于今天，也不能晚于今天之后 366 天"
            "（422 validation_error）"
        }
    )
    days = ma.fields.Integer(load_default=7, validate=validate.Range(min=1, max=14))


class CalendarDaySchema(ma.Schema):
    """One day of a department's calendar."""

    date = ma.fields.Date()
    status = ma.fields.Enum(Availability, by_value=True)
    total = ma.fields.Integer()
    remaining = ma.fields.Integer()


class ScheduleDateQuery(ma.Schema):
    """?date=YYYY-MM-DD"""

    date = ma.fields.Date(required=True)


class ScheduleDoctorSchema(ma.Schema):
    """The doctor of a schedule, in brief."""

    id = ma.fields.Integer()
    name = ma.fields.String()
    title = ma.fields.Enum(DoctorTitle, by_value=True)
    title_name = ma.fields.Function(lambda d: DoctorTitle(d["title"]).label)
    specialty = ma.fields.String()


class ScheduleSchema(ma.Schema):
    """A schedule with the numbers it has left; status is what a patient can do with it now."""

    id = ma.fields.Integer()
    date = ma.fields.Date()
    period = ma.fields.Enum(Period, by_value=True)
    period_name = ma.fields.Function(lambda s: Period(s["period"]).label)
    start_time = ma.fields.Time(format="%H:%M")
    end_time = ma.fields.Time(format="%H:%M")
    fee_fen = ma.fields.Integer()
    total = ma.fields.Integer()
    remaining = ma.fields.Integer()
    status = ma.fields.Enum(Availability, by_value=True)
    release_at = ChinaDateTime()
    stop_reason = ma.fields.String(allow_none=True)
    doctor = ma.fields.Nested(ScheduleDoctorSchema)


class DepartmentBriefSchema(ma.Schema):
    """A department, named with its hospital."""

    id = ma.fields.Integer()
    name = ma.fields.String()
    hospital_id = ma.fields.Integer()
    hospital_name = ma.fields.String()


class DoctorSchema(ma.Schema):
    """A doctor's page."""

    id = ma.fields.Integer()
    name = ma.fields.String()
    title = ma.fields.Enum(DoctorTitle, by_value=True)
    title_name = ma.fields.Function(lambda d: DoctorTitle(d["title"]).label)
    specialty = ma.fields.String()
    intro = ma.fields.String()
    fee_fen = ma.fields.Integer()
    department = ma.fields.Nested(DepartmentBriefSchema)


class DoctorHitSchema(DoctorSchema):
    """A doctor in search results, without the long introduction."""

    class Meta:
        exclude = ("intro",)


class SearchQuery(ma.Schema):
    """?q=…: a name, a specialty or a symptom."""

    q = _query_field(required=True)


class DepartmentHitSchema(ma.Schema):
    """A department found by name or by symptom, with the symptoms that matched."""

    id = ma.fields.Integer()
    name = ma.fields.String()
    hospital_id = ma.fields.Integer()
    hospital_name = ma.fields.String()
    matched_symptoms = ma.fields.List(ma.fields.String())


class SearchResultSchema(ma.Schema):
    """What /search found, by kind."""

    hospitals = ma.fields.List(ma.fields.Nested(HospitalSchema))
    departments = ma.fields.List(ma.fields.Nested(DepartmentHitSchema))
    doctors = ma.fields.List(ma.fields.Nested(DoctorHitSchema))


HospitalPageSchema = page_schema(HospitalSchema, "HospitalPage")
