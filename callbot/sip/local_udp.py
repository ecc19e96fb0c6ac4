"""A UDP socket on the loopback for tools that play a SIP or RTP peer (fuzzers, test callers)."""

from __future__ import annotations

import asyncio


class LoopbackUdpEndpoint(asyncio.DatagramProtocol):
    """Opens itself on 127.0.0.1 on a free port; subclasses only say what to do with datagrams."""

    transport: asyncio.DatagramTransport | None = None

    async def open(self) -> int:
        """Bind to a free loopback port and return it."""
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        assert self.transport is not None
        return self.transport.get_extra_info("sockname")[1]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
