"""What the mini-program's end-to-end journeys ask of the backend besides HTTP, run with its venv
and the environment of the served app (tests/support/backend.js):

- ``run-jobs``: run the queued jobs as a worker does, until none is left (the served app has no
  worker): the messages of the outbox reach the WeChat stand-in of the served app.
- ``clinic-now DEPARTMENT_ID FEE_FEN``: a clinic of today whose period includes now, so that
  check-in is open, with a doctor of its own; prints ``{"schedule_id", "date", ...}`` as JSON.
"""

import json
import sys
from datetime import datetime, time, timedelta

from app import create_app
from app.domain import clock
from app.domain.enums import DoctorTitle, Period, SlotState
from app.domain.schedule import slot_times
from app.extensions import db
from app.infra import cache
from app.models import Doctor, Schedule, Slot
from app.services.transaction import transaction
from tests.support import run_queued_jobs

CAPACITY = 10
MINUTES_PER_PATIENT = 10


def _period(moment: datetime) -> Period:
    if moment.hour < 12:
        return Period.MORNING
    return Period.AFTERNOON if moment.hour < 18 else Period.EVENING


def clinic_now(department_id: int, fee_fen: int) -> dict:
    """Open a clinic of today from half an hour ago to an hour and a half from now, released
    yesterday; within the day: late in the evening it starts earlier, so that its numbers'
    times all fall before midnight (in the last minute before midnight check-in would already
    be closed)."""
    now = clock.now().replace(second=0, microsecond=0)
    today = clock.business_date(now)
    last_start = datetime.combine(today, time(23, 59), now.tzinfo) - timedelta(
        minutes=MINUTES_PER_PATIENT * (CAPACITY - 1)
    )
    start = min(now - timedelta(minutes=30), last_start)
    start = max(start, datetime.combine(today, time(0, 0), now.tzinfo))
    end = min(now + timedelta(minutes=90), datetime.combine(today, time(23, 59), now.tzinfo))
    with transaction():
        doctor = Doctor(
            department_id=department_id,
            name="陈今朝",
            title=DoctorTitle.ATTENDING,
            specialty="就诊日签到",
            fee_fen=fee_fen,
        )
        db.session.add(doctor)
        db.session.flush()
        schedule = Schedule(
            doctor_id=doctor.id,
            department_id=department_id,
            date=today,
            period=_period(now),
            start_time=start.time(),
            end_time=end.time(),
            capacity=CAPACITY,
            fee_fen=fee_fen,
            minutes_per_patient=MINUTES_PER_PATIENT,
            release_at=now - timedelta(days=1),
        )
        db.session.add(schedule)
        db.session.flush()
        times = slot_times(schedule.start_time, schedule.end_time, MINUTES_PER_PATIENT, CAPACITY)
        db.session.add_all(
            Slot(schedule_id=schedule.id, seq=seq, state=SlotState.FREE, suggested_time=at)
            for seq, at in enumerate(times, start=1)
        )
        answer = {
            "schedule_id": schedule.id,
            "doctor_id": doctor.id,
            "date": today.isoformat(),
            "start_time": start.strftime("%H:%M"),
            "end_time": end.strftime("%H:%M"),
        }
    cache.invalidate(cache.CATALOGUE)
    cache.invalidate_department(department_id)
    return answer


def main(argv):
    """Run one task (see the module's docstring)."""
    app = create_app()
    with app.app_context():
        if argv[:1] == ["run-jobs"]:
            run_queued_jobs()
        elif argv[:1] == ["clinic-now"] and len(argv) == 3:
            print(json.dumps(clinic_now(int(argv[1]), int(argv[2]))))
        else:
            raise SystemExit(f"unknown task: {' '.join(argv)}")


if __name__ == "__main__":
    main(sys.argv[1:])
