"""Persistence: SQLAlchemy models, Alembic migrations, the order journal. SQLite by default, PostgreSQL by URL."""
