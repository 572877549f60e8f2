"""Rules about accounts and the patients (就诊人) they book for."""

from enum import StrEnum


class AccountStatus(StrEnum):
    """Whether an account may use the service: active, frozen by staff, or deleted by its owner."""

    ACTIVE = "active"
    FROZEN = "frozen"
    DELETED = "deleted"


class Relationship(StrEnum):
    """Who a patient is to the account holder."""

    SELF = "self"
    CHILD = "child"
    PARENT = "parent"
    SPOUSE = "spouse"
    OTHER = "other"

    @property
    def label(self):
        return _RELATIONSHIP_LABELS[self]


_RELATIONSHIP_LABELS = {
    Relationship.SELF: "本人",
    Relationship.CHILD: "子女",
    Relationship.PARENT: "父母",
    Relationship.SPOUSE: "配偶",
    Relationship.OTHER: "其他",
}


class Sex(StrEnum):
    """A patient's sex, as on their identity document."""

    MALE = "male"
    FEMALE = "female"
