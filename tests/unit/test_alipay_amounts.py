"""Fen ↔ Alipay's yuan strings: exact both ways, and strict about what they refuse."""

from decimal import Decimal

import pytest

from app.domain.money import MAX_FEN, InvalidAmount, fen_to_yuan, yuan_to_fen


@pytest.mark.parametrize(
    ("fen", "yuan"),
    [
        (0, "0.00"),
        (1, "0.01"),
        (10, "0.10"),
        (1230, "12.30"),
        (5000, "50.00"),
        (10000, "100.00"),
        (123456789, "1234567.89"),
        (MAX_FEN, "100000000.00"),
    ],
)
def test_fen_to_yuan(fen, yuan):
    assert fen_to_yuan(fen) == yuan


@pytest.mark.parametrize(
    ("yuan", "fen"),
    [
        ("0.01", 1),
        ("0.1", 10),
        ("12.30", 1230),
        ("12.3", 1230),
        ("100", 10000),
        ("100.00", 10000),
        ("0", 0),
        ("0.00", 0),
        ("100000000", MAX_FEN),
        ("100000000.00", MAX_FEN),
    ],
)
def test_yuan_to_fen(yuan, fen):
    assert yuan_to_fen(yuan) == fen


def test_every_fen_amount_survives_the_round_trip():
    # Where float arithmetic goes wrong (0.29 * 100 = 28.999...), Decimal does not.
    for fen in [*range(0, 1001), 2900, 1999, 100_000_001, MAX_FEN - 1]:
        assert yuan_to_fen(fen_to_yuan(fen)) == fen


@pytest.mark.parametrize(
    "yuan",
    [
        "1.234",  # more than two decimals
        "0.001",
        "-1",
        "-0.01",
        "+1",
        "1e3",
        "1E2",
        "NaN",
        "Infinity",
        "",
        " 1",
        "1 ",
        "1.",
        ".5",
        "1,000.00",
        "１２",  # full-width digits
        "١٢",  # Arabic-Indic digits: str.isdigit() would say yes
        "100000000.01",  # above Alipay's ceiling
        "99999999999999999999",
    ],
)
def test_yuan_strings_that_are_refused(yuan):
    with pytest.raises(InvalidAmount):
        yuan_to_fen(yuan)


@pytest.mark.parametrize("value", [12.3, 0.1, Decimal("12.30"), 1230, None, b"12.30"])
def test_yuan_must_be_a_string(value):
    with pytest.raises(InvalidAmount):
        yuan_to_fen(value)


@pytest.mark.parametrize("value", [-1, MAX_FEN + 1, 10**30, 12.3, 1230.0, "1230", True, None])
def test_fen_that_are_refused(value):
    with pytest.raises(InvalidAmount):
        fen_to_yuan(value)


def test_invalid_amount_is_a_value_error():
    assert issubclass(InvalidAmount, ValueError)
