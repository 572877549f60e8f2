"""Commands: ``flask --app wsgi seed-demo``."""

import click

from app.services import demo


def register(app):
    """Add the project's commands to ``flask``."""

    @app.cli.command("seed-demo")
    def seed_demo():
        """Create the demo hospitals, departments, doctors and 8 days of schedules (idempotent)."""
        counts = demo.seed_demo()
        click.echo("demo data: " + ", ".join(f"{k} +{v}" for k, v in counts.items()))
