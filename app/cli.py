"""Commands: ``flask --app wsgi seed-demo``."""

import getpass
from datetime import date

import click
from flask import current_app

from app.domain.payments import PaymentChannel
from app.domain.staff import StaffRole
from app.errors import AppError
from app.infra.database import create_database
from app.services import demo, money_ops, stop_clinic
from app.services import staff as staff_service


def register(app):
    """Add the project's commands to ``flask``."""

    @app.cli.command("create-db")
    def create_db():
        """Create the configured database if it does not exist (utf8mb4 on MySQL)."""
        url = current_app.config["SQLALCHEMY_DATABASE_URI"]
        created = create_database(url)
        click.echo("database created" if created else "database ready")

    @app.cli.command("seed-demo")
    def seed_demo():
        """Create the demo hospitals, departments, doctors and 8 days of schedules (idempotent)."""
        counts = demo.seed_demo()
        click.echo("demo data: " + ", ".join(f"{k} +{v}" for k, v in counts.items()))

    @app.cli.command("create-staff")
    @click.option("--username", required=True)
    @click.option("--password", required=True, help="10+ characters, letters and digits or symbols")
    @click.option("--role", required=True, type=click.Choice([role.value for role in StaffRole]))
    @click.option("--hospital", "hospital_id", type=int, help="a hospital admin's hospital")
    @click.option("--department", "department_id", type=int, help="a department admin's")
    @click.option("--doctor", "doctor_id", type=int, help="a doctor's own id")
    def create_staff_command(username, password, role, hospital_id, department_id, doctor_id):
        """Create a staff member of the admin pages, without prompting (for scripts)."""
        try:
            staff = staff_service.create_staff(
                username,
                password,
                role,
                hospital_id=hospital_id,
                department_id=department_id,
                doctor_id=doctor_id,
                actor=f"cli:{getpass.getuser()}",
            )
        except AppError as error:
            raise click.ClickException(error.message) from None
        click.echo(f"staff {staff.id} {staff.username} created ({staff.role.label})")

    @app.cli.command("stop-clinic")
    @click.argument("schedule_id", type=int)
    @click.option("--reason", required=True, help="停诊原因, as patients will read it.")
    @click.option("--actor", default=None, help="Who stops it (default: cli:<user>).")
    def stop_clinic_command(schedule_id, reason, actor):
        """Stop a schedule's clinic (停诊): cancel and fully refund its orders, notify patients."""
        actor = actor or f"cli:{getpass.getuser()}"
        try:
            result = stop_clinic.stop_clinic(schedule_id, reason, actor)
        except AppError as error:
            raise click.ClickException(error.message) from None
        click.echo(
            f"schedule {result.schedule_id} stopped ({result.reason}): "
            f"{result.cancelled} order(s) cancelled, {result.refunds} refund(s) asked "
            f"({result.refunded_fen} fen), {result.notices} notice(s) queued"
        )
        if result.alternatives:
            click.echo("alternatives offered: " + "; ".join(result.alternatives))

    money = click.Group("money", help="Refunds that failed and reconciliation differences.")
    app.cli.add_command(money)

    @money.command("failed-refunds")
    def failed_refunds():
        """List refunds the channels would not complete (money still owed)."""
        rows = money_ops.failed_refunds()
        for refund in rows:
            click.echo(
                f"{refund.id}\t{refund.out_refund_no}\torder {refund.order_id}\t"
                f"{refund.amount_fen} fen\t{refund.reason}\t{refund.last_error}"
            )
        click.echo(f"{len(rows)} failed refund(s)")

    @money.command("retry-refund")
    @click.argument("refund_id", type=int)
    def retry_refund(refund_id):
        """Send a failed refund again."""
        refund = money_ops.retry_refund(refund_id)
        click.echo(f"refund {refund.id} ({refund.out_refund_no}) queued again")

    @money.command("differences")
    def differences():
        """List reconciliation differences not yet resolved."""
        rows = money_ops.open_differences()
        for day, item in rows:
            click.echo(
                f"{day.bill_date}\t{day.channel}\t{item.kind}\t{item.out_trade_no}\t"
                f"{item.out_refund_no or '-'}\there {item.amount_here_fen}\t"
                f"there {item.amount_there_fen}\t{item.note}"
            )
        click.echo(f"{len(rows)} open difference(s)")

    @money.command("reconcile")
    @click.option("--date", "day", required=True, type=click.DateTime(["%Y-%m-%d"]))
    @click.option("--channel", type=click.Choice([c.value for c in PaymentChannel]))
    def reconcile(day, channel):
        """Reconcile one day again (both channels unless --channel)."""
        channels = (PaymentChannel(channel),) if channel else tuple(PaymentChannel)
        for result in money_ops.reconcile_day(date.fromordinal(day.toordinal()), channels):
            click.echo(f"{result.bill_date} {result.channel}: {result.status}")
