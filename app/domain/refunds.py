"""How much of a paid order goes back when the patient cancels: the hospital's refund tiers.

A tier applies from ``min_hours`` before the visit starts: the first tier (largest min_hours) that
the time left reaches decides. Its ``fee_percent`` is kept by the hospital; a tier without one
means cancelling is no longer possible. The default: 24 h or more before the visit, free; 2–24 h,
20 % fee; under 2 h, not cancellable.
"""

from dataclasses import dataclass
from datetime import datetime


class InvalidTiers(ValueError):
    """Refund tiers that do not make a complete, ordered table."""


@dataclass(frozen=True)
class RefundTier:
    """From ``min_hours`` before the visit: keep ``fee_percent`` %, or refuse when None."""

    min_hours: float
    fee_percent: int | None


DEFAULT_TIERS = (RefundTier(24, 0), RefundTier(2, 20), RefundTier(0, None))


@dataclass(frozen=True)
class RefundQuote:
    """What cancelling now would give back."""

    refundable: bool
    refund_fen: int
    fee_fen: int
    reason: str


def validate_tiers(tiers) -> tuple[RefundTier, ...]:
    """The tiers, largest min_hours first; InvalidTiers unless they cover every moment up to 0 h."""
    ordered = tuple(sorted(tiers, key=lambda tier: tier.min_hours, reverse=True))
    if not ordered or ordered[-1].min_hours != 0:
        raise InvalidTiers("the last tier must start at 0 hours before the visit")
    hours = [tier.min_hours for tier in ordered]
    if len(set(hours)) != len(hours) or any(h < 0 for h in hours):
        raise InvalidTiers("tiers need distinct, non-negative hours")
    for tier in ordered:
        if tier.fee_percent is not None and not 0 <= tier.fee_percent <= 100:
            raise InvalidTiers("a fee is a percentage from 0 to 100")
    return ordered


def parse_tiers(text: str) -> tuple[RefundTier, ...]:
    """Tiers from "24:0,2:20,0:none" (hours:fee percent, "none" = not cancellable)."""
    tiers = []
    for part in (text or "").split(","):
        hours, sep, fee = part.strip().partition(":")
        if not sep:
            raise InvalidTiers(f"tier {part!r} is not hours:fee")
        try:
            tier = RefundTier(float(hours), None if fee.strip().lower() == "none" else int(fee))
        except ValueError:
            raise InvalidTiers(f"tier {part!r} is not hours:fee") from None
        tiers.append(tier)
    return validate_tiers(tiers)


def format_tiers(tiers) -> str:
    """The text form that parse_tiers reads back."""
    return ",".join(
        f"{tier.min_hours:g}:{'none' if tier.fee_percent is None else tier.fee_percent}"
        for tier in validate_tiers(tiers)
    )


def quote(
    amount_fen: int, visit_start: datetime, now: datetime, tiers=DEFAULT_TIERS
) -> RefundQuote:
    """The refund for cancelling a paid order of ``amount_fen`` at ``now``.

    The fee is rounded down, in the patient's favour; refund + fee always equals the amount.
    """
    if amount_fen < 0:
        raise ValueError("amounts are never negative")
    hours_left = (visit_start - now).total_seconds() / 3600
    if hours_left <= 0:
        return RefundQuote(False, 0, 0, "visit_started")
    tier = next(t for t in validate_tiers(tiers) if hours_left >= t.min_hours)
    if tier.fee_percent is None:
        return RefundQuote(False, 0, 0, "cancel_window_closed")
    fee = amount_fen * tier.fee_percent // 100
    reason = "free_cancellation" if fee == 0 else "cancellation_fee"
    return RefundQuote(True, amount_fen - fee, fee, reason)
