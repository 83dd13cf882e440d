"""The real-time stream: tenants' dispatched events pushed to WebSocket and Server-Sent
Events clients (internal; the protocol is documented in ``docs/realtime.md``).

``hub`` fans events out to subscribers, ``protocol`` holds the message shapes and close
codes, ``access`` authenticates and re-checks connections, ``websocket`` and ``sse`` are the
two transports.
"""
