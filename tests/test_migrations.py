"""The schema only through Alembic: the migrated database matches the models exactly."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from bridge.models import Base


def test_migrations_match_the_models(database_url):
    engine = create_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ; write a revision: {diff}"


def test_downgrade_to_nothing_and_back(tmp_path):
    from alembic import command

    from bridge.cli import alembic_config

    cfg = alembic_config(f"sqlite:///{tmp_path / 'roundtrip.sqlite3'}")
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "head")
