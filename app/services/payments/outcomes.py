"""What applying a payment, a refund's settlement or a notification came to."""

from enum import StrEnum


class Applied(StrEnum):
    """The outcome of applying what a channel said."""

    BOOKED = "booked"  # the payment booked its order
    REFUNDING = "refunding"  # the order was no longer payable: the money goes back in full
    SETTLED = "settled"  # a refund's final status was recorded
    ALREADY = "already"  # applied before: nothing changed
    IGNORED = "ignored"  # nothing of ours to apply (another event type, a trade not paid yet)


class NotifyRejected(Exception):
    """A notification we do not apply; ``status`` is the HTTP answer (the channel retries)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message
