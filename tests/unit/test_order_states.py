"""The order (挂号单) state machine of app.domain.orders: labels, active states, transitions,
and the Order model that moves through it."""

import re
from itertools import product

import pytest

from app.domain.orders import (
    ACTIVE_STATUSES,
    TRANSITIONS,
    CancelledBy,
    OrderStatus,
    TransitionRefused,
    can_move,
    move,
)
from app.models import Order

S = OrderStatus

LABELS = {
    S.PENDING_PAYMENT: "待支付",
    S.BOOKED: "已预约",
    S.CHECKED_IN: "已签到",
    S.CALLED: "已叫号",
    S.COMPLETED: "已就诊",
    S.EXPIRED: "已过期",
    S.CANCELLED: "已取消",
    S.NO_SHOW: "爽约",
    S.RESCHEDULED: "已改约",
}

# Every allowed move; every other pair of statuses is refused.
ALLOWED = {
    (S.PENDING_PAYMENT, S.BOOKED),
    (S.PENDING_PAYMENT, S.EXPIRED),
    (S.PENDING_PAYMENT, S.CANCELLED),
    (S.BOOKED, S.CHECKED_IN),
    (S.BOOKED, S.CANCELLED),
    (S.BOOKED, S.NO_SHOW),
    (S.BOOKED, S.RESCHEDULED),
    (S.CHECKED_IN, S.CALLED),
    (S.CHECKED_IN, S.NO_SHOW),
    (S.CHECKED_IN, S.CANCELLED),
    (S.CALLED, S.COMPLETED),
    (S.CALLED, S.CHECKED_IN),
    (S.CALLED, S.NO_SHOW),
}

ACTIVE = {S.PENDING_PAYMENT, S.BOOKED, S.CHECKED_IN, S.CALLED}
TERMINAL = {S.COMPLETED, S.EXPIRED, S.CANCELLED, S.NO_SHOW, S.RESCHEDULED}


def test_statuses_and_their_stored_values():
    assert {status.value for status in S} == {
        "pending_payment",
        "booked",
        "checked_in",
        "called",
        "completed",
        "expired",
        "cancelled",
        "no_show",
        "rescheduled",
    }
    assert S("booked") is S.BOOKED
    assert S.BOOKED == "booked"


@pytest.mark.parametrize("status", list(S))
def test_every_status_has_its_chinese_label(status):
    assert status.label == LABELS[status]
    assert re.search(r"[\u4e00-\u9fff]", status.label)


def test_labels_are_distinct():
    assert len({status.label for status in S}) == len(S)


def test_active_statuses_are_exactly_those_that_hold_a_slot():
    assert frozenset(ACTIVE) == ACTIVE_STATUSES
    assert isinstance(ACTIVE_STATUSES, frozenset)


@pytest.mark.parametrize("status", list(S))
def test_is_active(status):
    assert status.is_active is (status in ACTIVE)


def test_active_and_terminal_partition_the_statuses():
    assert set(S) == ACTIVE | TERMINAL
    assert not ACTIVE & TERMINAL


def test_statuses_with_moves_are_the_active_ones():
    assert {status for status in S if any(can_move(status, target) for target in S)} == ACTIVE


@pytest.mark.parametrize(
    ("current", "target"), sorted(product(S, S)), ids=lambda status: status.value
)
def test_can_move_matches_the_table(current, target):
    assert can_move(current, target) is ((current, target) in ALLOWED)


def test_transition_table_is_exactly_the_allowed_moves():
    assert {
        (current, target) for current, targets in TRANSITIONS.items() for target in targets
    } == (ALLOWED)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.PENDING_PAYMENT, S.BOOKED),
        (S.PENDING_PAYMENT, S.EXPIRED),
        (S.BOOKED, S.CHECKED_IN),
        (S.CHECKED_IN, S.CALLED),
        (S.CALLED, S.COMPLETED),
        (S.CALLED, S.CHECKED_IN),
        (S.BOOKED, S.RESCHEDULED),
    ],
)
def test_allowed_moves(current, target):
    assert can_move(current, target) is True


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.EXPIRED, S.BOOKED),  # a late payment is refunded, never revives the order
        (S.CANCELLED, S.BOOKED),
        (S.PENDING_PAYMENT, S.CHECKED_IN),  # unpaid orders cannot check in
        (S.PENDING_PAYMENT, S.COMPLETED),
        (S.PENDING_PAYMENT, S.NO_SHOW),
        (S.BOOKED, S.EXPIRED),  # a paid order never expires
        (S.BOOKED, S.COMPLETED),  # skipping check-in and call
        (S.BOOKED, S.PENDING_PAYMENT),
        (S.CHECKED_IN, S.BOOKED),
        (S.CALLED, S.CANCELLED),
        (S.NO_SHOW, S.CHECKED_IN),
        (S.RESCHEDULED, S.BOOKED),
    ],
)
def test_refused_moves(current, target):
    assert can_move(current, target) is False


@pytest.mark.parametrize("current", sorted(TERMINAL))
@pytest.mark.parametrize("target", list(S))
def test_terminal_statuses_go_nowhere(current, target):
    assert can_move(current, target) is False


@pytest.mark.parametrize("status", list(S))
def test_no_status_moves_to_itself(status):
    assert can_move(status, status) is False


def test_can_move_takes_plain_values():
    assert can_move("pending_payment", "booked") is True
    assert can_move("completed", "booked") is False


def test_who_cancels():
    assert {who.value for who in CancelledBy} == {"patient", "hospital", "system"}


def test_move_gives_the_allowed_target_and_refuses_the_rest():
    assert move(S.PENDING_PAYMENT, S.BOOKED) is S.BOOKED
    with pytest.raises(TransitionRefused) as refused:
        move(S.EXPIRED, S.BOOKED)
    assert (refused.value.current, refused.value.target) == (S.EXPIRED, S.BOOKED)


def test_an_order_refuses_a_move_the_state_machine_does_not_allow():
    """The Order model moves through the state machine: a late payment never books an expired
    order, whatever the caller checked before."""
    order = Order(status=S.EXPIRED, active=None)
    with pytest.raises(TransitionRefused):
        order.set_status(S.BOOKED)
    assert (order.status, order.active) == (S.EXPIRED, None)
    order = Order(status=S.PENDING_PAYMENT, active=True)
    order.close(S.CANCELLED, CancelledBy.PATIENT, "患者取消", None)
    assert (order.status, order.active, order.cancelled_by) == (S.CANCELLED, None, "patient")
