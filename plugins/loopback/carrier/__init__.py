"""The simulated carrier behind the loopback provider: scripted callees (``script``), the
calls it runs in this process (``call``, ``program``, ``control``, ``state``), their time
(``clock``), recordings' media (``media``), the webhooks it delivers (``outbox``) and the
lease that tells other processes it is alive (``lease``). Private to the plugin."""
