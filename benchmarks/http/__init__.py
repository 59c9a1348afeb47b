"""The HTTP benchmark: see __main__.py."""
