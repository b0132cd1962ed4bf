"""The command line: ``passthrough-client`` and ``python -m passthrough_client``.

``main`` parses and dispatches; ``common`` holds what every command shares (exit codes,
masking, opening a client); ``config``, ``demo``, ``doctor`` and ``batch`` are the
commands that live in modules of their own, imported on use. Not imported by
``import passthrough_client``.
"""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
