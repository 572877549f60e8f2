"""Tables. Import models from here."""

from app.models.catalogue import Department, Doctor, Hospital, Schedule, Slot

__all__ = ["Department", "Doctor", "Hospital", "Schedule", "Slot"]
