"""Sphinx configuration for the di-scopes documentation site.

Build it with warnings as errors, as CI does::

    pip install -e '.[docs]'
    sphinx-build -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The API reference reads the pure-Python twin: both twins have the same API and docstrings,
# and the pure one's signatures can be introspected.
os.environ.setdefault("DI_SCOPES_NO_EXTENSIONS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import di_scopes  # noqa: E402

project = "di-scopes"
author = "the di-scopes authors"
copyright = "the di-scopes authors"  # noqa: A001
release = di_scopes.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options: dict = {}

# Links to other projects' documentation are written as plain links, so the build needs no network.
intersphinx_mapping: dict = {}

html_theme = "furo"
html_title = f"di-scopes {release}"
html_static_path: list = []

# Every public name has an entry in the API reference: a name in a public module's __all__ that
# no page describes is a warning, so an error in the -W build.
PUBLIC_MODULES = [
    "di_scopes",
    "di_scopes.asgi",
    "di_scopes.fastapi",
    "di_scopes.sqlalchemy",
    "di_scopes.wsgi",
    "di_scopes.flask",
    "di_scopes.django",
    "di_scopes.aiohttp",
    "di_scopes.celery",
    "di_scopes.integration",
]
SAME_AS = {"di_scopes.aiohttp.APP": "di_scopes.APP"}  # re-exports described once, where defined


def check_api_reference(app, env) -> None:  # type: ignore[no-untyped-def]
    import importlib

    from sphinx.util import logging

    described = set(env.get_domain("py").objects)
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            full = f"{module_name}.{name}"
            # a re-export of a di_scopes name (integration.ErrorResponse) is described there
            if SAME_AS.get(full, full) not in described and f"di_scopes.{name}" not in described:
                logging.getLogger(__name__).warning(
                    "%s is public (in %s.__all__) but the API reference does not describe it", full, module_name
                )


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("env-check-consistency", check_api_reference)
