"""Bridges from a PBX to the voice pipeline: Asterisk chan_websocket, a generic WebSocket
protocol, and Asterisk AudioSocket. Wire formats are pure modules; transports do the I/O."""
