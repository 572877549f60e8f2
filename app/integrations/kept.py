"""The app's one adapter per outside service and process, over kept HTTP connections.

An adapter keeps its connections between calls. It is built again when the settings it was built
from change (then the one it replaces closes its connections at once, even if a caller still holds
it) and in a forked process, whose inherited adapter's connections are its parent's to use and
close.
"""

import os
from collections.abc import Callable, Hashable
from typing import Protocol, TypeVar

from flask import current_app


class Adapter(Protocol):
    def close_connections(self) -> None: ...


A = TypeVar("A", bound=Adapter)


def current(name: str, settings: Hashable, build: Callable[[], A]) -> A:
    """The current app's adapter ``name``: the one built for ``settings`` in this process, or a
    new one from ``build()``."""
    pid = os.getpid()
    cached = current_app.extensions.get(name)
    if cached is not None and cached[:2] == (pid, settings):
        return cached[2]
    if cached is not None and cached[0] == pid:
        cached[2].close_connections()
    adapter = build()
    current_app.extensions[name] = (pid, settings, adapter)
    return adapter
