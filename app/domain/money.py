"""Money: integer fen everywhere in our code; yuan strings ("12.30") only on a provider's wire.

Alipay states amounts in yuan with at most two decimals (``total_amount``, ``refund_amount``),
within [0.01, 100000000]. These conversions are exact (Decimal, never float) and strict: a value
that is not a plain non-negative amount with at most two decimals is refused, never rounded.
"""

import re
from decimal import Decimal

# Alipay's ceiling for one trade: 100,000,000 yuan.
MAX_YUAN = 100_000_000
MAX_FEN = MAX_YUAN * 100

# Digits, optionally a point and one or two digits: no sign, exponent, spaces or "NaN".
_YUAN = re.compile(r"[0-9]+(?:\.[0-9]{1,2})?")


class InvalidAmount(ValueError):
    """Not an amount we can state exactly: wrong type, negative, too precise or too large."""


def fen_to_yuan(fen: int) -> str:
    """``fen`` as Alipay's yuan string with two decimals: 1230 → "12.30", 1 → "0.01"."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise InvalidAmount(f"an amount in fen must be an int, not {type(fen).__name__}")
    if fen < 0:
        raise InvalidAmount(f"an amount cannot be negative: {fen}")
    if fen > MAX_FEN:
        raise InvalidAmount(f"{fen} fen is more than {MAX_YUAN} yuan")
    return f"{fen // 100}.{fen % 100:02d}"


def yuan_to_fen(yuan: str) -> int:
    """Alipay's yuan string as whole fen: "12.30" → 1230, "12.3" → 1230, "100" → 10000."""
    if not isinstance(yuan, str):
        raise InvalidAmount(f"an amount in yuan must be a string, not {type(yuan).__name__}")
    if not _YUAN.fullmatch(yuan):
        raise InvalidAmount(f"not an amount in yuan with at most two decimals: {yuan!r}")
    fen = int(Decimal(yuan).scaleb(2))  # exact: at most two decimals, so an integral value
    if fen > MAX_FEN:
        raise InvalidAmount(f"{yuan} yuan is more than {MAX_YUAN} yuan")
    return fen
