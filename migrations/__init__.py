"""Alembic migrations for DealCoach's schema (revision files under versions/, date-prefixed)."""
