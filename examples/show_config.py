"""Load a commented YAML configuration and print it with secrets masked.

Run: python examples/show_config.py [path/to/config.yaml]

YAML needs PyYAML, the ``yaml`` extra: ``pip install '.[yaml]'`` from a checkout
(``pip install 'passthrough-client[yaml]'`` from PyPI).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from passthrough_client import ConfigError, dump_config, load_config


def main(argv: list[str]) -> int:
    """Print the effective configuration of ``argv[0]`` (default: the example file)."""
    path = argv[0] if argv else str(Path(__file__).with_name("passthrough.yaml"))
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"invalid configuration {path}:\n{exc}", file=sys.stderr)
        return 2
    print(repr(config))
    print(json.dumps(dump_config(config), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
