"""The providers as drop-ins for dependency-injector's: the surface its users rely on.

compat/run.py runs dependency-injector's own tests against both twins; these pin the same
behaviour, and the documented differences, in this suite.
"""

from __future__ import annotations

import copy
import sys
from collections import OrderedDict

import pytest
from dependency_injector import containers, errors, providers


class Session:
    def __init__(self, url="sqlite://"):
        self.url = url


def session_resource(log):
    log.append("open")
    try:
        yield Session()
        log.append("commit")
    except Exception:
        log.append("rollback")
        raise


def test_cls_is_what_the_singleton_provides(impl):
    assert impl.ContextLocalSingleton(dict).cls is dict
    assert providers.deepcopy(impl.ContextLocalSingleton(Session)).cls is Session


def test_provided_type_is_checked_when_built(impl):
    class OnlyDicts(impl.ContextLocalSingleton):
        provided_type = dict

    class MyDict(dict):
        pass

    with impl.scope():
        assert type(OnlyDicts(MyDict)()) is MyDict
    with pytest.raises(errors.Error, match=r"OnlyDicts can provide only <class 'dict'> instances.*got <class 'list'>"):
        OnlyDicts(list)
    with pytest.raises(errors.Error, match="can provide only"):
        OnlyDicts().set_provides(list)


def test_repr_is_the_public_name_in_both_twins(impl):
    provider = impl.ContextLocalSingleton(dict)
    assert repr(provider) == f"<di_scopes.ContextLocalSingleton(<class 'dict'>) at {hex(id(provider))}>"
    resource = impl.ContextLocalResource()
    assert str(resource) == f"<di_scopes.ContextLocalResource() at {hex(id(resource))}>"

    class Mine(impl.ContextLocalResource):
        pass

    assert repr(Mine(dict)).startswith(f"<{__name__}.test_repr_is_the_public_name_in_both_twins.<locals>.Mine(")


@pytest.mark.parametrize("kind", ["ContextLocalSingleton", "ContextLocalResource"])
def test_a_provides_that_is_not_callable_is_refused_when_built(impl, kind):
    cls = getattr(impl, kind)
    message = rf"di_scopes\.{kind}: provides must be a callable that makes the instance .*got 123"
    with pytest.raises(errors.Error, match=message):
        cls(123)
    provider = cls()
    with pytest.raises(errors.Error, match=message):
        provider.set_provides(123)


@pytest.mark.parametrize("kind", ["ContextLocalSingleton", "ContextLocalResource"])
def test_resolving_without_provides_says_what_to_do(impl, kind):
    provider = getattr(impl, kind)()
    with impl.scope():
        with pytest.raises(errors.Error, match=rf"di_scopes\.{kind} .*nothing to provide.*set_provides"):
            provider()
        provider.set_provides(Session)
        assert isinstance(provider(), Session)


def test_an_initialized_resource_cannot_be_deep_copied(impl):
    log = []
    provider = impl.ContextLocalResource(session_resource, log)
    providers.deepcopy(provider)  # no scope: nothing to share
    with impl.scope():
        providers.deepcopy(provider)  # not resolved in this scope yet
        provider()
        with pytest.raises(
            errors.Error, match=r"Can not copy initialized resource ContextLocalResource\(session_resource\)"
        ):
            providers.deepcopy(provider)
        with impl.scope("other", exclusive=True):
            with pytest.raises(errors.Error):  # the scope it binds to holds an instance
                copy.deepcopy(provider)
    providers.deepcopy(provider)
    # A singleton copies while initialized, as dependency-injector's do.
    singleton = impl.ContextLocalSingleton(Session)
    with impl.scope():
        singleton()
        assert providers.deepcopy(singleton) is not singleton


def test_copy_copy_makes_an_independent_provider(impl):
    override = providers.Object(Session("override://"))
    provider = impl.ContextLocalSingleton(Session, "a://").add_attributes(flag=1).in_scope("job")
    copied = copy.copy(provider)
    assert type(copied) is type(provider) and copied is not provider
    assert (copied.provides, copied.args, copied.attributes, copied.scope_name) == (
        Session,
        ("a://",),
        {"flag": 1},
        "job",
    )
    copied.set_args("b://")
    assert provider.args == ("a://",)
    with impl.scope("job"):
        assert provider() is not copied() and copied().url == "b://"

    provider.override(override)
    overridden = copy.copy(provider)
    assert overridden.overridden == (override,)
    assert overridden().url == "override://"

    resource = impl.ContextLocalResource(session_resource, [])
    assert copy.copy(resource).args == resource.args


def test_string_imports_resolve_relative_to_the_caller(impl, tmp_path, monkeypatch):
    assert impl.ContextLocalSingleton("Session").provides is Session  # this module's name
    assert impl.ContextLocalResource("session_resource").provides is session_resource
    assert impl.ContextLocalSingleton("dict").provides is dict  # a builtin
    assert impl.ContextLocalSingleton("collections.OrderedDict").provides is OrderedDict
    assert impl.ContextLocalSingleton().set_provides("Session").provides is Session

    package = tmp_path / "dropin_package"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "things.py").write_text("class Thing:\n    pass\n")
    (package / "container.py").write_text(
        "import importlib, os\n"
        "from dependency_injector import containers\n"
        "def build(twin):\n"
        "    class Container(containers.DeclarativeContainer):\n"
        "        thing = twin.ContextLocalSingleton('.things.Thing')\n"
        "        local = twin.ContextLocalSingleton('Helper')\n"
        "    return Container\n"
        "class Helper:\n"
        "    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from dropin_package import container, things

    Container = container.build(impl)
    assert Container.thing.provides is things.Thing
    assert Container.local.provides is container.Helper
    with pytest.raises(ImportError, match="no known parent package"):
        impl.ContextLocalSingleton(".things.Thing")  # this test module is in no package
    del sys.modules["dropin_package"], sys.modules["dropin_package.container"], sys.modules["dropin_package.things"]


def test_provides_is_what_was_passed(impl):
    # dependency-injector 4.49 returns a generator function wrapped in contextmanager(); the
    # scoped providers return the function they were given, in both twins.
    assert impl.ContextLocalResource(session_resource).provides is session_resource
    provider = impl.ContextLocalResource().set_provides(session_resource)
    assert provider.provides is session_resource
    assert providers.deepcopy(provider).provides is session_resource


def make_container(impl, log):
    def logged_session():  # a closure: containers deep-copy the arguments of their providers
        yield from session_resource(log)

    class Container(containers.DeclarativeContainer):
        app_resource = providers.Resource(logged_session)
        app_singleton = providers.Singleton(Session)
        session = impl.ContextLocalResource(logged_session)
        per_scope = impl.ContextLocalSingleton(Session)

    return Container()


def test_container_wide_operations_leave_scoped_providers_to_their_scopes(impl):
    log = []
    container = make_container(impl, log)
    found = list(
        container.traverse(types=[providers.BaseResource if hasattr(providers, "BaseResource") else providers.Resource])
    )
    assert found == [container.app_resource]
    assert set(container.traverse(types=[impl.ContextLocalResource, impl.ContextLocalSingleton])) == {
        container.session,
        container.per_scope,
    }

    container.init_resources()  # outside any scope: only the application's resource
    assert log == ["open"] and not container.session.initialized
    with impl.scope():
        session, per_scope = container.session(), container.per_scope()
        container.shutdown_resources()
        container.reset_singletons()
        assert log == ["open", "open", "commit"]  # the application's resource, not the scope's
        assert container.session() is session and container.per_scope() is per_scope
    assert log == ["open", "open", "commit", "commit"]  # the scope's end tears it down
