"""Reconciliation matching: every kind of finding, the day's boundaries in China, the totals."""

from datetime import UTC, date, datetime, timedelta

import pytest

from app.domain.clock import CHINA_TZ
from app.domain.reconciliation import (
    Entry,
    FindingKind,
    day_window,
    on_day,
    reconcile,
)

DAY = date(2026, 11, 22)
NOON = datetime(2026, 11, 22, 12, 0, tzinfo=CHINA_TZ)


def paid(out_trade_no, fen=5000, at=NOON):
    return Entry(out_trade_no, fen, at, provider_no="4200" + out_trade_no)


def refunded(out_trade_no, out_refund_no, fen=5000, at=NOON):
    return Entry(out_trade_no, fen, at, out_refund_no=out_refund_no)


def kinds(report):
    return [(f.kind, f.out_trade_no, f.out_refund_no) for f in report.findings]


def test_the_same_payments_and_refunds_on_both_sides_all_match():
    ours = [paid("BK1"), paid("BK2", 3000), refunded("BK1", "RF1", 4000)]
    theirs = [paid("BK2", 3000), refunded("BK1", "RF1", 4000), paid("BK1")]

    report = reconcile(DAY, ours, theirs)

    assert {f.kind for f in report.findings} == {FindingKind.MATCHED}
    assert report.counts == {
        FindingKind.MATCHED: 3,
        FindingKind.MISSING_HERE: 0,
        FindingKind.MISSING_THERE: 0,
        FindingKind.AMOUNT_MISMATCH: 0,
    }
    assert report.discrepancies == []
    assert (report.paid_here_fen, report.paid_there_fen) == (8000, 8000)
    assert (report.refunded_here_fen, report.refunded_there_fen) == (4000, 4000)


def test_every_kind_at_once():
    ours = [
        paid("BK1"),  # matched
        paid("BK2", 5000),  # the bill says 4900
        paid("BK3", at=NOON + timedelta(hours=1)),  # not in the bill
        refunded("BK1", "RF1", 2000),  # matched
        refunded("BK4", "RF4", 1000),  # not in the bill
        refunded("BK5", "RF5", 1500),  # the bill says 1000
    ]
    theirs = [
        paid("BK1"),
        paid("BK2", 4900),
        paid("TX9", 800),  # nobody here knows it
        refunded("BK1", "RF1", 2000),
        refunded("BK6", "RF6", 700),  # nobody here knows it
        refunded("BK5", "RF5", 1000),
    ]

    report = reconcile(DAY, ours, theirs)

    assert sorted(kinds(report), key=str) == sorted(
        [
            (FindingKind.MATCHED, "BK1", None),
            (FindingKind.AMOUNT_MISMATCH, "BK2", None),
            (FindingKind.MISSING_HERE, "TX9", None),
            (FindingKind.MATCHED, "BK1", "RF1"),
            (FindingKind.MISSING_HERE, "BK6", "RF6"),
            (FindingKind.AMOUNT_MISMATCH, "BK5", "RF5"),
            (FindingKind.MISSING_THERE, "BK3", None),
            (FindingKind.MISSING_THERE, "BK4", "RF4"),
        ],
        key=str,
    )
    assert report.counts == {
        FindingKind.MATCHED: 2,
        FindingKind.MISSING_HERE: 2,
        FindingKind.MISSING_THERE: 2,
        FindingKind.AMOUNT_MISMATCH: 2,
    }
    assert len(report.discrepancies) == 6
    assert (report.paid_here_fen, report.paid_there_fen) == (15000, 10700)
    assert (report.refunded_here_fen, report.refunded_there_fen) == (4500, 3700)
    mismatch = next(f for f in report.findings if f.out_trade_no == "BK2")
    assert (mismatch.amount_here_fen, mismatch.amount_there_fen) == (5000, 4900)
    unknown = next(f for f in report.findings if f.out_trade_no == "TX9")
    assert (unknown.amount_here_fen, unknown.amount_there_fen) == (None, 800)
    assert unknown.there.provider_no == "4200TX9"


def test_a_refund_is_matched_by_its_number_not_its_payment():
    """Two refunds of one payment are two lines; a refund never matches the payment itself."""
    ours = [refunded("BK1", "RF1", 1000), refunded("BK1", "RF2", 2000)]
    theirs = [refunded("BK1", "RF2", 2000), paid("BK1", 1000)]

    report = reconcile(DAY, ours, theirs)

    assert sorted(kinds(report), key=str) == sorted(
        [
            (FindingKind.MATCHED, "BK1", "RF2"),
            (FindingKind.MISSING_HERE, "BK1", None),
            (FindingKind.MISSING_THERE, "BK1", "RF1"),
        ],
        key=str,
    )


def test_a_bill_line_twice_is_matched_once():
    report = reconcile(DAY, [paid("BK1")], [paid("BK1"), paid("BK1")])

    assert [f.kind for f in report.findings] == [FindingKind.MATCHED, FindingKind.MISSING_HERE]


def test_an_empty_day():
    report = reconcile(DAY, [], [])

    assert report.findings == [] and set(report.counts.values()) == {0}


def test_notes_are_for_staff():
    ours = [paid("BK2", 5000), paid("BK3", 1234)]
    theirs = [paid("BK2", 4900), paid("TX9", 800)]

    notes = {f.out_trade_no: f.note for f in reconcile(DAY, ours, theirs).findings}

    assert notes["BK2"] == "支付金额不符：本院 ¥50.00，渠道 ¥49.00"
    assert notes["BK3"] == "本院当日记为支付成功（¥12.34），渠道账单无此笔"
    assert notes["TX9"] == "渠道账单有此支付（¥8.00），本院当日无记录"


# --- The day's boundaries, in China --------------------------------------------------------------


def test_the_day_is_midnight_to_midnight_in_china():
    start, end = day_window(DAY)

    assert start == datetime(2026, 11, 21, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (datetime(2026, 11, 22, 0, 0, 0, tzinfo=CHINA_TZ), True),
        (datetime(2026, 11, 22, 23, 59, 59, 999999, tzinfo=CHINA_TZ), True),
        (datetime(2026, 11, 23, 0, 0, 0, tzinfo=CHINA_TZ), False),
        (datetime(2026, 11, 21, 23, 59, 59, tzinfo=CHINA_TZ), False),
        # UTC times are judged by their date in China, not their own.
        (datetime(2026, 11, 21, 16, 0, tzinfo=UTC), True),
        (datetime(2026, 11, 21, 15, 59, 59, tzinfo=UTC), False),
        (datetime(2026, 11, 22, 15, 59, 59, tzinfo=UTC), True),
        (datetime(2026, 11, 22, 16, 0, tzinfo=UTC), False),
    ],
)
def test_on_day(moment, inside):
    assert on_day(moment, DAY) is inside


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="aware"):
        on_day(datetime(2026, 11, 22, 12, 0), DAY)


def test_our_entries_of_another_day_in_china_are_not_the_days():
    """Paid at 00:00:30 on the 23rd in China (16:00:30 UTC on the 22nd): not the 22nd's."""
    after_midnight = datetime(2026, 11, 22, 16, 0, 30, tzinfo=UTC)
    before_midnight = datetime(2026, 11, 22, 15, 59, 30, tzinfo=UTC)
    ours = [paid("BK1", at=after_midnight), paid("BK2", at=before_midnight)]

    report = reconcile(DAY, ours, [paid("BK2", at=before_midnight)])

    assert kinds(report) == [(FindingKind.MATCHED, "BK2", None)]
    assert report.paid_here_fen == 5000
