"""PostgreSQL: connection pool, migrations, the embedded default."""

from .database import connect_pool, resolve_database_url
from .migrate import MigrationError, migrate, migration_status

__all__ = ["MigrationError", "connect_pool", "migrate", "migration_status", "resolve_database_url"]
