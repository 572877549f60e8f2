"""Tables. Import models from here."""

from app.models.accounts import Account, Patient
from app.models.catalogue import Department, Doctor, Hospital, Schedule, Slot

__all__ = ["Account", "Department", "Doctor", "Hospital", "Patient", "Schedule", "Slot"]
