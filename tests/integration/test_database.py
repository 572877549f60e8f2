"""create-db: the database itself is made utf8mb4 when missing, and left alone when present."""

import pytest
import sqlalchemy as sa

import config
from app import create_app
from app.infra.database import create_database
from tests.support import database_name, fresh_database


def test_create_db_makes_a_missing_database_and_keeps_an_existing_one():
    url = fresh_database(database_name("_created"))
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{engine.url.database}`"))
    engine.dispose()
    settings = config.TestingConfig()
    settings.SQLALCHEMY_DATABASE_URI = url
    runner = create_app(settings).test_cli_runner()
    assert runner.invoke(args=["create-db"]).output.strip() == "database created"
    assert runner.invoke(args=["create-db"]).output.strip() == "database ready"
    server = sa.create_engine(url)
    with server.connect() as connection:
        charset = connection.execute(
            sa.text(
                "SELECT default_character_set_name FROM information_schema.schemata "
                "WHERE schema_name = DATABASE()"
            )
        ).scalar()
    server.dispose()
    assert charset == "utf8mb4"


@pytest.mark.parametrize("name", ["x; DROP DATABASE mysql", "a" * 65, ""])
def test_unusual_names_are_refused(name):
    with pytest.raises(ValueError):
        create_database(f"mysql+pymysql://root@127.0.0.1:3306/{name}")


def test_sqlite_gets_its_folder(tmp_path):
    create_database(f"sqlite:///{tmp_path / 'nested' / 'dev.db'}")
    assert (tmp_path / "nested").is_dir()
