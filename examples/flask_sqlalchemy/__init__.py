"""A Flask + SQLAlchemy application with one session per request (see README)."""
