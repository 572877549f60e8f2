"""Jobs about reconciliation (对账): each channel's bill of yesterday against our books."""

from app.services import reconciliation


def reconcile_yesterday():
    """Reconcile yesterday for both channels once the bills are ready (10:00 China time); runs
    every hour and does nothing before 10:00 or for a day already done. Returns the ids stored."""
    return [row.id for row in reconciliation.reconcile_yesterday()]
