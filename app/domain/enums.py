"""The domain's enumerations, stored and sent by their string values."""

from enum import StrEnum


class HospitalLevel(StrEnum):
    """医院等级: the grade a hospital holds under the national grading."""

    GRADE_3A = "3A"
    GRADE_3B = "3B"
    GRADE_2A = "2A"
    GRADE_2B = "2B"
    GRADE_1 = "1"

    @property
    def label(self):
        return _LEVEL_LABELS[self]


_LEVEL_LABELS = {
    HospitalLevel.GRADE_3A: "三级甲等",
    HospitalLevel.GRADE_3B: "三级乙等",
    HospitalLevel.GRADE_2A: "二级甲等",
    HospitalLevel.GRADE_2B: "二级乙等",
    HospitalLevel.GRADE_1: "一级医院",
}


class SexRule(StrEnum):
    """Which patients a department sees by sex."""

    ANY = "any"
    FEMALE = "female"
    MALE = "male"


class DoctorTitle(StrEnum):
    """A doctor's professional title (职称)."""

    CHIEF = "chief_physician"
    ASSOCIATE_CHIEF = "associate_chief_physician"
    ATTENDING = "attending_physician"
    RESIDENT = "physician"

    @property
    def label(self):
        return _TITLE_LABELS[self]


_TITLE_LABELS = {
    DoctorTitle.CHIEF: "主任医师",
    DoctorTitle.ASSOCIATE_CHIEF: "副主任医师",
    DoctorTitle.ATTENDING: "主治医师",
    DoctorTitle.RESIDENT: "医师",
}


class Period(StrEnum):
    """The part of the day a schedule covers."""

    MORNING = "morning"
    AFTERNOON = "afternoon"
    EVENING = "evening"

    @property
    def label(self):
        return _PERIOD_LABELS[self]


_PERIOD_LABELS = {Period.MORNING: "上午", Period.AFTERNOON: "下午", Period.EVENING: "晚间"}


class ScheduleStatus(StrEnum):
    """Whether a schedule takes patients: open, or stopped (停诊)."""

    OPEN = "open"
    STOPPED = "stopped"


class SlotState(StrEnum):
    """A numbered place's state, after FHIR Slot: free, held (busy-tentative), booked, blocked."""

    FREE = "free"
    HELD = "held"
    BOOKED = "booked"
    BLOCKED = "blocked"


class Availability(StrEnum):
    """What a patient sees for a day or a schedule: can they book, and if not, why."""

    AVAILABLE = "available"
    FULL = "full"
    NOT_RELEASED = "not_released"
    STOPPED = "stopped"
    NONE = "none"
