"""The projects database schema (SQLAlchemy Core); only the outbox/inbox so far."""

from sqlalchemy import MetaData

metadata = MetaData()
