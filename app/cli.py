"""Commands: ``flask --app wsgi seed-demo``."""

import click
from flask import current_app

from app.database import create_database
from app.services import demo


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
