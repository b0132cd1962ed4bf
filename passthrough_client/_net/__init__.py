"""From a validated configuration to sockets: what builds and drives connections.

``transport`` (the ``requests.Session`` of a client, redirects, environment read once),
``adapter`` (the ``HTTPAdapter`` that owns TLS policy, directly and through proxies),
``conn_hooks`` and ``watchdog`` (per-call deadline over the connection's socket, interim
1xx responses), ``body`` (bounded body reads), ``errors`` (every foreign exception in
words), ``fork`` (fresh pools in a forked child) and ``compat`` (every difference
between the supported urllib3 versions). Imports ``_rules`` and ``config``; never the
client modules above it.
"""
