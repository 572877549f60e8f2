"""The app's one adapter per outside service and process (app/integrations/kept.py)."""

import pytest
from flask import Flask

from app.integrations import kept


class _Adapter:
    def __init__(self, settings):
        self.settings, self.closed = settings, False

    def close_connections(self):
        self.closed = True


@pytest.fixture
def ctx():
    with Flask(__name__).app_context():
        yield


def _current(settings):
    return kept.current("service", settings, lambda: _Adapter(settings))


def test_the_same_settings_reuse_the_adapter(ctx):
    first = _current(("a", 1))

    assert _current(("a", 1)) is first
    assert not first.closed


def test_new_settings_build_another_and_close_the_replaced_one(ctx):
    replaced = _current(("a", 1))

    adapter = _current(("a", 2))

    assert adapter is not replaced and adapter.settings == ("a", 2)
    assert replaced.closed and not adapter.closed


def test_a_forked_process_builds_its_own_and_leaves_the_parents_open(ctx, monkeypatch):
    parents = _current(("a", 1))
    monkeypatch.setattr(kept.os, "getpid", lambda: -1)  # what a forked child sees: another pid

    childs = _current(("a", 1))

    assert childs is not parents
    assert not parents.closed
    assert _current(("a", 1)) is childs


def test_each_service_has_its_own(ctx):
    one = kept.current("one", (), lambda: _Adapter("one"))
    other = kept.current("other", (), lambda: _Adapter("other"))

    assert (one.settings, other.settings) == ("one", "other")
    assert not one.closed
