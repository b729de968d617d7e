"""The SQL system of record (ARCHITECTURE.md "Stores")."""

from intake.store.db import make_engine, migrate
from intake.store.schema import metadata
from intake.store.sql import SqlStore

__all__ = ["SqlStore", "make_engine", "metadata", "migrate"]
