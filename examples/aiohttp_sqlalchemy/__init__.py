"""The example bank on aiohttp; see app.py."""
