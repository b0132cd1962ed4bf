"""The ``passthrough-client`` command line (also ``python -m passthrough_client``).

Commands: ``models``, ``chat MODEL PROMPT``, ``complete MODEL PROMPT``,
``embed MODEL TEXT...``, ``config [FILE]``, ``doctor``, ``demo`` and ``batch INPUT.jsonl``.
``--config FILE`` may stand anywhere on the command line; without it the sample
configuration applies (``PASSTHROUGH_URL``, ``PASSTHROUGH_API_KEY``). ``--provider-id ID``
(anywhere too) picks one ``remote::passthrough`` provider of a Llama Stack run
configuration that has several. ``demo`` runs against its own local fake service: it
takes neither option.

Exit codes: 0 success; 1 a service or connection error, or a failed ``doctor`` step;
2 a usage or configuration error (including invalid ``--provider-data`` and a model
outside ``allowed_models``). An error is one line on stderr (``error: ...``); the
traceback is shown only with ``--debug``, which also logs the package's DEBUG
records to stderr. Secrets (API keys, proxy passwords, credential headers) are masked
in everything printed.

This module is not imported by the package itself: ``import passthrough_client``
stays cheap. ``doctor`` and ``demo`` live in their own modules, imported on use.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import traceback
from typing import Any, Callable, Iterator, Optional, Sequence, TextIO

from .._client import PassthroughClient
from .._version import __version__
from .common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    PACKAGE,
    describe_error,
    open_client,
    print_json,
    source_of,
)

__all__ = ["build_parser", "main"]

# ------------------------------------------------------------------ commands


def _text(value: str) -> str:
    """A command-line text argument; ``-`` reads standard input."""
    return sys.stdin.read() if value == "-" else value


def _params(args: argparse.Namespace) -> dict[str, Any]:
    params = {"max_tokens": args.max_tokens, "temperature": args.temperature}
    params["provider_data"] = args.provider_data
    return params


def _cmd_models(client: PassthroughClient, args: argparse.Namespace, out: TextIO) -> int:
    models = client.models(provider_data=args.provider_data)
    if args.json:
        print_json([m.to_dict() for m in models], out)
    else:
        out.writelines(f"{m.id}\n" for m in models)
    return EXIT_OK


def _write_tokens(pieces: Iterator[Optional[str]], out: TextIO) -> None:
    last = "\n"
    for piece in pieces:
        if piece:
            out.write(piece)
            out.flush()  # each token as it arrives
            last = piece
    if not last.endswith("\n"):
        out.write("\n")


def _stream_out(
    stream: Any, args: argparse.Namespace, out: TextIO, text: Callable[[Any], Any]
) -> None:
    with stream:
        if args.json:
            for chunk in stream:
                print_json(chunk.to_dict(), out, indent=None)
        else:
            _write_tokens((text(c) for c in stream if c.choices), out)


def _cmd_chat(client: PassthroughClient, args: argparse.Namespace, out: TextIO) -> int:
    messages = [{"role": "user", "content": _text(args.prompt)}]
    if args.system:
        messages.insert(0, {"role": "system", "content": args.system})
    if not args.no_stream:
        stream = client.chat(model=args.model, messages=messages, stream=True, **_params(args))
        _stream_out(stream, args, out, lambda c: c.choices[0].delta.content)
        return EXIT_OK
    reply = client.chat(model=args.model, messages=messages, **_params(args))
    if args.json:
        print_json(reply.to_dict(), out)
    else:
        content = reply.choices[0].message.content if reply.choices else None
        out.write(f"{content or ''}\n")
    return EXIT_OK


def _cmd_complete(client: PassthroughClient, args: argparse.Namespace, out: TextIO) -> int:
    prompt = _text(args.prompt)
    if args.stream:
        stream = client.completions(model=args.model, prompt=prompt, stream=True, **_params(args))
        _stream_out(stream, args, out, lambda c: c.choices[0].text)
        return EXIT_OK
    reply = client.completions(model=args.model, prompt=prompt, **_params(args))
    if args.json:
        print_json(reply.to_dict(), out)
    else:
        out.write(f"{reply.choices[0].text if reply.choices else ''}\n")
    return EXIT_OK


def _cmd_embed(client: PassthroughClient, args: argparse.Namespace, out: TextIO) -> int:
    texts = [_text(t) for t in args.text]
    result = client.embeddings(
        model=args.model,
        input=texts[0] if len(texts) == 1 else texts,
        provider_data=args.provider_data,
    )
    if args.json:
        print_json(result.to_dict(), out)
    else:
        for item in result.data:
            vector = item.embedding
            print_json(vector if isinstance(vector, str) else list(vector), out, indent=None)
    return EXIT_OK


def _cmd_config(client: PassthroughClient, args: argparse.Namespace, out: TextIO) -> int:
    from .config import print_config

    return print_config(client, source_of(args.config, args.provider_id), out)


_COMMANDS: dict[str, Callable[[PassthroughClient, argparse.Namespace, TextIO], int]] = {
    "chat": _cmd_chat,
    "complete": _cmd_complete,
    "config": _cmd_config,
    "embed": _cmd_embed,
    "models": _cmd_models,
}


# ------------------------------------------------------------------ parser


def _common() -> argparse.ArgumentParser:
    # SUPPRESS: a sub-command's default must not overwrite a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", metavar="FILE", default=argparse.SUPPRESS,
        help="configuration file (YAML or JSON); default: PASSTHROUGH_URL/PASSTHROUGH_API_KEY",
    )  # fmt: skip
    common.add_argument(
        "--provider-id", metavar="ID", default=argparse.SUPPRESS,
        help="the remote::passthrough provider to use from a run configuration with several",
    )  # fmt: skip
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS,
        help="show tracebacks and log DEBUG records of the client to stderr",
    )  # fmt: skip
    return common


def _calls() -> argparse.ArgumentParser:
    calls = argparse.ArgumentParser(add_help=False)
    calls.add_argument("--provider-data", metavar="JSON", help="provider data (a JSON object)")
    calls.add_argument("--max-retries", type=int, default=2, metavar="N", help="default: 2")
    calls.add_argument("--json", action="store_true", help="print the JSON received")
    return calls


def _generation(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL")
    parser.add_argument("prompt", metavar="PROMPT", help="the prompt ('-' reads stdin)")
    parser.add_argument("--max-tokens", type=int, metavar="N")
    parser.add_argument("--temperature", type=float, metavar="T")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``passthrough-client``."""
    common, calls = _common(), _calls()
    parser = argparse.ArgumentParser(
        prog="passthrough-client",
        parents=[common],
        description="Talk to an OpenAI-compatible inference service configured like "
        "Llama Stack's remote::passthrough provider.",
        epilog="exit codes: 0 ok, 1 service or connection error, 2 usage or configuration error",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser("models", parents=[common, calls], help="list the models")
    chat = sub.add_parser("chat", parents=[common, calls], help="chat (streams by default)")
    _generation(chat)
    chat.add_argument("--system", metavar="TEXT", help="a system message")
    chat.add_argument("--no-stream", action="store_true", help="wait for the whole reply")
    complete = sub.add_parser("complete", parents=[common, calls], help="a text completion")
    _generation(complete)
    complete.add_argument("--stream", action="store_true", help="print tokens as they arrive")
    embed = sub.add_parser("embed", parents=[common, calls], help="embeddings, one per line")
    embed.add_argument("model", metavar="MODEL")
    embed.add_argument("text", metavar="TEXT", nargs="+", help="text to embed ('-' reads stdin)")
    config = sub.add_parser("config", parents=[common], help="validate and show the configuration")
    config.add_argument("file", metavar="FILE", nargs="?", help="same as --config FILE")
    doctor = sub.add_parser("doctor", parents=[common], help="check the way to the service")
    doctor.add_argument("--provider-data", metavar="JSON", help="provider data (a JSON object)")
    sub.add_parser(
        "demo", parents=[common], help="run every call against its own local fake service"
    )
    from .batch import add_batch_parser

    add_batch_parser(sub, common)
    return parser


def _parse(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.config = getattr(args, "config", None)
    args.provider_id = getattr(args, "provider_id", None)
    args.debug = getattr(args, "debug", False)
    if args.command == "config" and args.file is not None:
        if args.config is not None:
            parser.error("config: give the file either as FILE or with --config, not both")
        args.config = args.file
    if args.command == "demo" and (args.config is not None or args.provider_id is not None):
        parser.error(
            "demo: --config and --provider-id do not apply: the demo starts its own local "
            "fake service; to try your configuration, run 'doctor' or 'models' with it"
        )
    if args.provider_id is not None and args.config is None:
        parser.error("--provider-id needs --config FILE (a Llama Stack run configuration)")
    return args


# ------------------------------------------------------------------ entry point


def _dispatch(args: argparse.Namespace, out: TextIO) -> int:
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(out)
    if args.command == "doctor":
        from .doctor import run_doctor

        return run_doctor(args.config, args.provider_data, out, provider_id=args.provider_id)
    if args.command == "batch":
        from .batch import run_batch_command

        return run_batch_command(args)
    retries = getattr(args, "max_retries", 2)
    with open_client(args.config, max_retries=retries, provider_id=args.provider_id) as client:
        return _COMMANDS[args.command](client, args, out)


def _logging(debug: bool) -> Callable[[], None]:
    """Send the package's records to stderr; returns the undo."""
    logger = logging.getLogger(PACKAGE)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    old_level = logger.level
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    logger.addHandler(handler)

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(old_level)

    return undo


def _silence_stdout() -> None:
    """Point stdout at devnull so the interpreter's final flush does not complain."""
    with contextlib.suppress(Exception):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _run(args: argparse.Namespace) -> int:
    try:
        return _dispatch(args, sys.stdout)
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        return 130
    except BrokenPipeError:
        _silence_stdout()  # stdout went away (e.g. piped into head): nothing to say
        return EXIT_FAILURE
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        code, line = describe_error(exc)
        sys.stderr.write(f"error: {line}\n")
        return code


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    try:
        args = _parse(argv)
    except SystemExit as exc:  # argparse: usage errors exit 2, --help and --version 0
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    undo = _logging(args.debug)
    try:
        return _run(args)
    finally:
        undo()
