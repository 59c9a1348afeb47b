"""The example bank on Django; see app.py."""
