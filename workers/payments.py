"""Jobs about money: sending refunds, asking the channel about silent payments, sweeps."""

from app.services.payments import paying, refunds


def process_refund(refund_id):
    """Send a refund to its channel (RQ retries it on a passing failure)."""
    return refunds.process_refund(refund_id)


def check_payment(payment_id):
    """Ask the channel whether a payment we heard nothing about was made."""
    return paying.check_payment(payment_id)


def close_unpaid(order_id):
    """Close the unpaid payments of an order that expired or was cancelled."""
    return paying.close_unpaid(order_id)


def refund_sweep():
    """Re-send refunds stuck without an answer; runs every minute."""
    return refunds.refund_sweep()
