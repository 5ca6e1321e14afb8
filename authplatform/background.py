"""Work a server process runs beside serving requests, registered by the apps that own it.

``authplatform.server`` starts everything registered here once its process is set up (never in
``manage.py`` commands or test processes, which serve nothing). Apps register in ``AppConfig.ready``,
so this package needs to know none of them (the import order of README "Layout").
"""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

_starters: dict[str, Callable[[], None]] = {}


def register(name: str, start: Callable[[], None]) -> None:
    """``start()`` is called once per server process; it must return at once (start a thread)."""
    _starters[name] = start


def start_all() -> None:
    for name, start in _starters.items():
        try:
            start()
        except Exception:
            logger.exception("Could not start %s.", name)
