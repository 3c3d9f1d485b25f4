"""Connection-level faults of a server: drop every client, or stop answering for a while.

asyncua keeps the transports of its client connections in ``iserver.asyncio_transports``. The
switch replaces that list with one that pauses every transport added while the server "hangs",
so a client connecting during the hang gets no answer either, exactly like a frozen device.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from asyncua import Server

_LOGGER = logging.getLogger(__name__)


class _Transports(list[Any]):
    def __init__(self, switch: HangSwitch) -> None:
        super().__init__()
        self._switch = switch

    def append(self, transport: Any) -> None:
        super().append(transport)
        if self._switch.hanging:
            transport.pause_reading()


class HangSwitch:
    def __init__(self) -> None:
        self._transports: _Transports | None = None
        self._resume: asyncio.TimerHandle | None = None

    @property
    def hanging(self) -> bool:
        return self._resume is not None

    def attach(self, server: Server) -> None:
        self.release()
        self._transports = _Transports(self)
        server.iserver.asyncio_transports = self._transports

    def hang(self, duration_s: float) -> None:
        if self._resume is not None:
            self._resume.cancel()
        self._resume = asyncio.get_running_loop().call_later(duration_s, self.release)
        for transport in self._open():
            transport.pause_reading()

    def release(self) -> None:
        """Answer again (the hang is over, or the server stops)."""
        if self._resume is None:
            return
        self._resume.cancel()
        self._resume = None
        for transport in self._open():
            transport.resume_reading()
        _LOGGER.info("server answers again")

    def drop_connections(self) -> None:
        transports = self._open()
        for transport in transports:
            transport.close()
        _LOGGER.info("dropped %d client connection(s)", len(transports))

    def _open(self) -> list[Any]:
        return [t for t in self._transports or [] if not t.is_closing()]
