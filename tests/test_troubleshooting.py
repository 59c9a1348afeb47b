"""Every error message that points to the troubleshooting guide points to a section it has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dependency_injector import containers

from di_scopes import _errors

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "src" / "di_scopes"
POINTER = re.compile(r'\(See "([^"]+)" in di-scopes\' troubleshooting guide\.\)')


def guide_sections() -> set[str]:
    text = (ROOT / "docs" / "troubleshooting.md").read_text()
    return set(re.findall(r"^## (.+)$", text, re.MULTILINE))


def explained_functions() -> dict[str, str]:
    """The message functions of _errors that name a section: their name -> the section."""
    return {
        name: value.section for name, value in vars(_errors).items() if callable(value) and hasattr(value, "section")
    }


def test_every_named_section_exists():
    sections = guide_sections()
    named = set(explained_functions().values())
    # Pointers written out in messages that are not made by a message function.
    for path in SOURCES.glob("*.py"):
        named.update(re.findall(r'See \\"([^"\\]+)\\" in di-scopes', path.read_text()))
    assert len(named) > 10
    assert named <= sections, f"named but missing from docs/troubleshooting.md: {sorted(named - sections)}"


def test_every_scope_error_names_a_section():
    """Each ScopeError raised in the sources is made from a message function that names a
    section (so no ScopeError message is left without an explanation)."""
    explained = explained_functions()
    made = []
    for path in [*SOURCES.glob("*.py"), SOURCES / "_scope_c.pyx"]:
        for match in re.finditer(r"\bScopeError\(([^)\n]*)", path.read_text()):
            made.append((path.name, match.group(1)))
    assert len(made) > 20
    for where, argument in made:
        if argument == "RuntimeError" or not argument:  # the class statement
            continue
        function = re.match(r"(\w+)\(", argument)
        assert function is not None and function.group(1) in explained, (
            f"{where}: ScopeError({argument}...) is not made by a message function that names a troubleshooting section"
        )


def test_messages_name_their_section(twin):
    """Seen from the outside, on both twins: the message ends with the section's name."""

    def get_session():
        yield "session"

    class Container(containers.DeclarativeContainer):
        session = twin.ContextLocalResource(get_session)

    container = Container()
    with pytest.raises(_errors.ScopeError) as outside:
        container.session()
    with twin.scope("request") as scope:
        pass
    with pytest.raises(_errors.ScopeError) as closed:
        scope.set_value("key", "value")
    sections = guide_sections()
    for error, section in ((outside, "Resolved outside any scope"), (closed, "The scope is closed or closing")):
        pointer = POINTER.search(str(error.value))
        assert pointer is not None and pointer.group(1) == section and section in sections
        assert str(error.value).endswith(pointer.group(0))
