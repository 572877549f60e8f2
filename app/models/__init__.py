"""Tables. Import models from here."""

from app.models.accounts import Account, Patient
from app.models.catalogue import Department, Doctor, Hospital, Schedule, Slot
from app.models.messages import Message, SubscriptionConsent
from app.models.orders import Order
from app.models.payments import Payment, Refund
from app.models.planning import ScheduleRequest, ScheduleTemplate
from app.models.reconciliation import Reconciliation, ReconciliationItem
from app.models.staff import AuditEntry, Staff
from app.models.stats import StatsBurst, StatsDaily, StatsHour, StatsPayment

__all__ = [
    "Account",
    "AuditEntry",
    "Department",
    "Doctor",
    "Hospital",
    "Message",
    "Order",
    "Patient",
    "Payment",
    "Reconciliation",
    "ReconciliationItem",
    "Refund",
    "Schedule",
    "ScheduleRequest",
    "ScheduleTemplate",
    "Slot",
    "Staff",
    "StatsBurst",
    "StatsDaily",
    "StatsHour",
    "StatsPayment",
    "SubscriptionConsent",
]
