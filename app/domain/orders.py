"""The order (挂号单) and its state machine, after FHIR Appointment."""

from enum import StrEnum


class OrderStatus(StrEnum):
    """Where an order is in its life."""

    PENDING_PAYMENT = "pending_payment"
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    CALLED = "called"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    RESCHEDULED = "rescheduled"

    @property
    def label(self):
        return _STATUS_LABELS[self]

    @property
    def is_active(self):
        """Whether the order holds its slot (and counts against duplicates)."""
        return self in ACTIVE_STATUSES


_STATUS_LABELS = {
    OrderStatus.PENDING_PAYMENT: "待支付",
    OrderStatus.BOOKED: "已预约",
    OrderStatus.CHECKED_IN: "已签到",
    OrderStatus.CALLED: "已叫号",
    OrderStatus.COMPLETED: "已就诊",
    OrderStatus.EXPIRED: "已过期",
    OrderStatus.CANCELLED: "已取消",
    OrderStatus.NO_SHOW: "爽约",
    OrderStatus.RESCHEDULED: "已改约",
}

ACTIVE_STATUSES = frozenset(
    {OrderStatus.PENDING_PAYMENT, OrderStatus.BOOKED, OrderStatus.CHECKED_IN, OrderStatus.CALLED}
)


# Booked (paid, or free) and not cancelled since, whatever became of the visit: what counts as a
# booking, and what a schedule's queue shows.
BOOKED_OR_LATER = (
    OrderStatus.BOOKED,
    OrderStatus.CHECKED_IN,
    OrderStatus.CALLED,
    OrderStatus.COMPLETED,
    OrderStatus.NO_SHOW,
)


class CancelledBy(StrEnum):
    """Who cancelled an order."""

    PATIENT = "patient"
    HOSPITAL = "hospital"
    SYSTEM = "system"


# Which status may follow which. Anything else is refused.
TRANSITIONS = {
    OrderStatus.PENDING_PAYMENT: {
        OrderStatus.BOOKED,
        OrderStatus.EXPIRED,
        OrderStatus.CANCELLED,
    },
    OrderStatus.BOOKED: {
        OrderStatus.CHECKED_IN,
        OrderStatus.CANCELLED,
        OrderStatus.NO_SHOW,
        OrderStatus.RESCHEDULED,
    },
    OrderStatus.CHECKED_IN: {OrderStatus.CALLED, OrderStatus.NO_SHOW, OrderStatus.CANCELLED},
    OrderStatus.CALLED: {OrderStatus.COMPLETED, OrderStatus.CHECKED_IN, OrderStatus.NO_SHOW},
}


class TransitionRefused(Exception):
    """A status change the state machine does not allow."""

    def __init__(self, current: OrderStatus, target: OrderStatus):
        super().__init__(f"an order in {current} cannot become {target}")
        self.current = current
        self.target = target


def can_move(current: OrderStatus, target: OrderStatus) -> bool:
    """Whether an order in ``current`` may become ``target``."""
    return target in TRANSITIONS.get(current, set())


def move(current: OrderStatus, target: OrderStatus) -> OrderStatus:
    """``target``, if an order in ``current`` may become it; TransitionRefused otherwise."""
    if not can_move(current, target):
        raise TransitionRefused(current, target)
    return target
