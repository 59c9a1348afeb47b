"""The example bank's jobs on Celery; see tasks.py."""
