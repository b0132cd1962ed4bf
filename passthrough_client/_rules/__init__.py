"""Pure rules, no sockets: what configuration validation and the network layer share.

TLS policy and contexts (``tls``), the proxy plan and ``no_proxy`` matching (``proxy``,
``no_proxy``), URLs (``urls``) and redirect origins (``redirect``), header names and
values (``headers``), server-sent-events decoding (``sse``), retry rules (``retry``),
masking of secrets in shown text (``mask``) and bounded Content-Encoding decoding
(``decode``). Nothing here imports ``config``, ``_net`` or the client; ``config`` and
``_net`` import from here. Each module is tested directly, without sockets.
"""
