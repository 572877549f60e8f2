"""The refund tier table: boundaries, rounding, custom tables and their validation."""

from datetime import datetime, timedelta

import pytest

from app.domain.clock import CHINA_TZ
from app.domain.refunds import (
    DEFAULT_TIERS,
    InvalidTiers,
    RefundTier,
    format_tiers,
    parse_tiers,
    quote,
    validate_tiers,
)

VISIT = datetime(2026, 11, 30, 8, 0, tzinfo=CHINA_TZ)


def at(hours_before):
    return VISIT - timedelta(hours=hours_before)


@pytest.mark.parametrize(
    "hours_before, refundable, refund, fee, reason",
    [
        (72, True, 5000, 0, "free_cancellation"),
        (24, True, 5000, 0, "free_cancellation"),
        (23.99, True, 4000, 1000, "cancellation_fee"),
        (2, True, 4000, 1000, "cancellation_fee"),
        (1.99, False, 0, 0, "cancel_window_closed"),
        (0.01, False, 0, 0, "cancel_window_closed"),
        (0, False, 0, 0, "visit_started"),
        (-3, False, 0, 0, "visit_started"),
    ],
)
def test_default_tiers(hours_before, refundable, refund, fee, reason):
    result = quote(5000, VISIT, at(hours_before))
    assert (result.refundable, result.refund_fen, result.fee_fen, result.reason) == (
        refundable,
        refund,
        fee,
        reason,
    )


@pytest.mark.parametrize("amount", [0, 1, 4, 5, 999, 1001, 2999])
def test_the_fee_rounds_down_and_adds_up(amount):
    result = quote(amount, VISIT, at(10))
    assert result.fee_fen == amount * 20 // 100
    assert result.refund_fen + result.fee_fen == amount


def test_a_free_cancellation_of_a_free_order():
    assert quote(0, VISIT, at(10)).reason == "free_cancellation"


def test_negative_amounts_are_refused():
    with pytest.raises(ValueError):
        quote(-1, VISIT, at(30))


def test_custom_tiers_in_any_order():
    tiers = [RefundTier(0, 50), RefundTier(48, 0), RefundTier(12, 10)]
    assert quote(1000, VISIT, at(50), tiers).refund_fen == 1000
    assert quote(1000, VISIT, at(20), tiers).fee_fen == 100
    assert quote(1000, VISIT, at(1), tiers).fee_fen == 500


@pytest.mark.parametrize(
    "tiers",
    [
        [],
        [RefundTier(24, 0)],
        [RefundTier(24, 0), RefundTier(24, 10), RefundTier(0, None)],
        [RefundTier(24, 0), RefundTier(0, 101)],
        [RefundTier(24, -1), RefundTier(0, None)],
        [RefundTier(-2, 0), RefundTier(0, None)],
    ],
)
def test_incomplete_or_malformed_tables_are_refused(tiers):
    with pytest.raises(InvalidTiers):
        validate_tiers(tiers)


def test_text_form_round_trips():
    assert parse_tiers("24:0,2:20,0:none") == DEFAULT_TIERS
    assert format_tiers(DEFAULT_TIERS) == "24:0,2:20,0:none"
    assert parse_tiers(" 0:none , 48:0, 6:30 ") == (
        RefundTier(48, 0),
        RefundTier(6, 30),
        RefundTier(0, None),
    )


@pytest.mark.parametrize("text", ["", "24", "24:zero,0:none", "x:0,0:none", "24:0"])
def test_malformed_text_is_refused(text):
    with pytest.raises(InvalidTiers):
        parse_tiers(text)
