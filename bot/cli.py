"""`mailbot VERB ...`: the verbs from a terminal, with the usual conventions.

Tables on stdout (or one JSON object with `--json`), errors as one sentence on stderr,
exit 0 done, 1 a host, tool or config failed, 2 bad input. A traceback is shown only
with MAILBOT_DEBUG=1, never for a user's mistake.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

import bot.actions  # noqa: F401  (registers the verbs)
from bot.actions import render
from bot.actions.registry import VERBS, Context, VerbArgumentParser
from bot.config import load_config
from bot.errors import MailbotError
from bot.mailhost.ssh import HostPool

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = VerbArgumentParser(
        prog="mailbot",
        description="Answers 'what happened to this mail?' on a BlueMind / Postfix mail platform.",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="config file (default: $MAILBOT_CONFIG, ./mailbot.yaml, the lab)"
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=VerbArgumentParser)
    verbs.required = True
    for verb in VERBS.values():
        sub = verbs.add_parser(verb.name, help=verb.summary, description=verb.summary)
        verb.configure(sub)
        sub.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("MAILBOT_LOG_LEVEL", "WARNING"), stream=sys.stderr)
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    pool = HostPool()
    try:
        args = build_parser().parse_args(argv)
        verb = VERBS[args.verb]
        request = verb.validate(args)
        config = load_config(args.config)
        context = Context(config=config, pool=pool, requester=_operator())
        outcome = verb.run(request, context)
        if args.json:
            print(json.dumps(outcome.to_json(), indent=2, ensure_ascii=False))
        else:
            sys.stdout.write(render.as_text(outcome))
        return outcome.exit_code
    except MailbotError as exc:
        print(f"mailbot: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("mailbot: interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line for the user, the traceback only on request
        if os.environ.get("MAILBOT_DEBUG"):
            raise
        print(
            f"mailbot: internal error ({type(exc).__name__}); run again with MAILBOT_DEBUG=1 for details.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    finally:
        pool.close()


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


def entry_point() -> NoReturn:
    sys.exit(main())
