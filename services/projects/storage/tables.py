"""The projects database schema (SQLAlchemy Core): the shared metadata every
storage module declares its tables on."""

from sqlalchemy import MetaData

metadata = MetaData()
