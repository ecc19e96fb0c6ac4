"""SIP endpoint: calls straight from a PBX or SIP trunk, each driving one voice pipeline.

Entry point: ``SipEndpoint(settings, stack)`` (``callbot.sip.endpoint``), ``await start()``
returns the UDP port, ``await stop()`` ends it; ``callbot serve`` opens it when
``CALLBOT_SIP__ENABLED=true`` (port ``CALLBOT_SIP__PORT``). Layers, one idea each:

- ``sippy_side``: sippy (transactions, dialogs) and our admission rules (403/486/488/503);
- ``signalling``: the thread sippy lives in;
- ``sdp`` and ``rtp_wire``: pure wire formats; ``media``: one call's RTP over asyncio;
- ``serializer``: pipecat frames ↔ G.711 and call-control words;
- ``endpoint``: one asyncio task per call: answer, pipeline, transfer (REFER), hang-up.
"""
