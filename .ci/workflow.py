"""Rules on the release workflow, .github/workflows/wheels.yml, that its JSON schema cannot
express; `nox -s cibuildwheel` applies them (noxfile.py imports this module from .ci/)."""

from __future__ import annotations

import json
import re


def problems(jobs: dict, text: str) -> list[str]:
    """What the workflow breaks of these rules, given its parsed ``jobs`` and its ``text``:

    - the free-threading job runs the suite on 3.14t and 3.15t with the GIL kept off
      (PYTHON_GIL=0), in parallel threads (pytest-run-parallel), and publishing waits for it;
    - the workflow installs cibuildwheel with `pip install -c constraints/tools.txt`, the version
      `nox -s cibuildwheel` installs and asks, never through the cibuildwheel action.
    """
    found = []
    threaded = json.dumps(jobs.get("free-threading", {}))
    for needed in ('"3.14t"', '"3.15t"', '"PYTHON_GIL": "0"', "--parallel-threads="):
        if needed not in threaded:
            found.append(f"the workflow's free-threading job lacks {needed}")
    if "free-threading" not in jobs.get("publish", {}).get("needs", []):
        found.append("publishing does not wait for the free-threading job")
    if "pypa/cibuildwheel@" in text or not re.search(r"pip install -c constraints/tools\.txt cibuildwheel\b", text):
        found.append("the workflow must install cibuildwheel with -c constraints/tools.txt")
    return found
