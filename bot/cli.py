"""`mailbot VERB ...`: the verbs from a terminal, with the usual conventions.

Tables on stdout (or one JSON object with `--json`), errors as one sentence on stderr,
exit 0 done, 1 a host, tool or config failed, 2 bad input. A traceback is shown only
with MAILBOT_DEBUG=1, never for a user's mistake.
"""

from __future__ import annotations

import argparse
import functools
import gc
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import bot
from bot import i18n, observe, startup
from bot.core.registry import VerbArgumentParser, configure_arguments
from bot.errors import BadInput, ConfigError, ExitStatus, MailbotError
from bot.i18n import N_, _
from bot.verbs import VERBS

# What a command needs beyond its parser is imported where it runs: `mailbot --version` and `--help`
# used to import every verb, paramiko, the config's pydantic and the state's drivers first (0.5 s, 17 times a bare
# `python -c pass`; issue 24). tests/test_cli.py checks what a start imports.
if TYPE_CHECKING:
    from bot.core.registry import Context, Outcome, Verb

    _Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    _Subparsers = argparse._SubParsersAction


class _VerbsConfiguredWhenChosen(_Subparsers):
    """The verbs' subparsers, each given its arguments only when argparse picks it: the top-level
    `--help` lists names and summaries, and a command imports the one verb module it runs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.configure: dict[str, Callable[[argparse.ArgumentParser], None]] = {}

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        assert values is not None  # nargs=PARSER: the verb's name, then its words
        name = values[0]
        configure = self.configure.pop(name, None)
        if configure is not None:
            configure(self.choices[name])
        super().__call__(parser, namespace, values, option_string)


def _configure_verb(name: str, sub: argparse.ArgumentParser) -> None:
    verb = VERBS[name]
    configure_arguments(verb, sub)
    sub.add_argument("--json", action="store_true", help=_("print one JSON object instead of tables"))
    if verb.changes_things:
        sub.add_argument("--yes", action="store_true", help=_("really run it (audited under your user name)"))


def build_parser() -> argparse.ArgumentParser:
    i18n.translate_argparse()
    parser = VerbArgumentParser(
        prog="mailbot",
        description=_("Answers 'what happened to this mail?' on a BlueMind / Postfix mail platform."),
    )
    parser.add_argument(
        "--config", metavar="FILE", help=_("config file (default: $MAILBOT_CONFIG, ./mailbot.yaml, the lab)")
    )
    parser.add_argument(
        "--lang",
        choices=i18n.LANGUAGES,
        help=_("the language of the answers (default: $LC_ALL, $LC_MESSAGES, $LANG, else English)"),
    )
    parser.add_argument(
        "--version", action="version", version=f"mailbot {_version()}", help=_("show the version and exit")
    )
    verbs = parser.add_subparsers(
        dest="verb", metavar="VERB", parser_class=VerbArgumentParser, action=_VerbsConfiguredWhenChosen
    )
    assert isinstance(verbs, _VerbsConfiguredWhenChosen)
    verbs.required = True
    for name in VERBS:
        summary = _(VERBS.summary(name))
        verbs.add_parser(name, help=summary, description=summary)
        verbs.configure[name] = functools.partial(_configure_verb, name)
    for command in COMMANDS.values():
        command.configure(verbs.add_parser(command.name, help=_(command.summary)))
    return parser


def _version() -> str:
    """The package's version: `bot.__version__`, the same as pyproject.toml's (tests/test_cli.py
    checks they agree). Asking importlib.metadata cost 35 ms of imports, more than Python's start."""
    return bot.__version__


def _asks_version(words: Sequence[str]) -> bool:
    """`mailbot [--config FILE] [--lang L] --version`: answered before any parser is built. Anything
    less plain (an abbreviation, a verb, --help first) goes to argparse, which answers the same."""
    index = 0
    while index < len(words):
        word = words[index]
        if word == "--version":
            return True
        value = words[index + 1] if word in ("--config", "--lang") and index + 1 < len(words) else None
        if word.startswith(("--config=", "--lang=")):
            word, value = word.split("=", 1)
            step = 1
        else:
            step = 2
        if value is None or value.startswith("-") or (word == "--lang" and value not in i18n.LANGUAGES):
            return False
        index += step
    return False


def _configure_serve(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--http", action="store_true", help=_("HTTP mode: signed requests at /slack/events"))
    serve.add_argument("--host", default="0.0.0.0", help=_("address to listen on in HTTP mode (default 0.0.0.0)"))  # noqa: S104
    serve.add_argument("--port", type=int, default=3000, help=_("HTTP mode port (default 3000)"))
    serve.add_argument("--health-port", type=int, default=None, help=_("Socket Mode: serve GET /health on this port"))


def _configure_guard(guard: argparse.ArgumentParser) -> None:
    guard.add_argument("--host", metavar="NAME", help=_("the configured host (default: the first)"))
    guard.add_argument(
        "--mode", choices=("read", "write", "all"), default="all", help=_("which commands the key may run")
    )
    guard.add_argument("--path", default="/usr/local/lib/mailbot-guard", help=_("where the program lives on the host"))
    guard.add_argument("--log", metavar="FILE", help=_("also log decisions to FILE on the host (besides syslog)"))
    guard.add_argument("--write-program", metavar="FILE", help=_("write the program to FILE (to copy to the host)"))


def _configure_health(health: argparse.ArgumentParser) -> None:
    health.add_argument("--url", default="http://127.0.0.1:3000/health", help=_("the bot's health URL"))


def _serve(args: argparse.Namespace) -> int:
    from bot.config import load_config
    from bot.core.registry import check_verb_names
    from bot.slack.serve import serve  # Slack libraries load only for the bot itself

    logging.getLogger().setLevel(log_level("INFO"))
    return serve(
        check_verb_names(load_config(args.config), VERBS),
        http=args.http,
        host=args.host,
        port=args.port,
        health_port=args.health_port,
    )


def _guard(args: argparse.Namespace) -> int:
    """Print the authorized_keys line for the host's key; write the guard program if asked."""
    from pathlib import Path

    from bot.config import load_config
    from bot.mailhost import guard

    config = load_config(args.config)
    host = config.host(args.host) if args.host else config.hosts[0]
    # One account on one machine may serve several host entries (a second Postfix instance):
    # its guard allows what the bot may send to any of them.
    shapes = [
        shape
        for entry in config.hosts
        if (entry.address, entry.port, entry.user) == (host.address, host.port, host.user)
        for shape in guard.shapes_for(entry)
    ]
    if args.write_program:
        Path(args.write_program).write_text(guard.program(shapes))
        Path(args.write_program).chmod(0o755)
    # `--mode write` is for the change key when the host has one (the everyday key then gets `read`)
    key_file = host.change_key_file if args.mode == "write" and host.change_key_file else host.key_file
    public = Path(f"{key_file}.pub")
    try:
        key = public.read_text()
    except OSError:
        raise ConfigError(
            _("Cannot read {public}: the guard line needs the bot's public key beside its private key.").format(
                public=public
            )
        ) from None
    print(guard.authorized_keys_line(key, args.path, args.mode, args.log))
    return ExitStatus.OK


def _health(args: argparse.Namespace) -> int:
    import urllib.request  # here: the container's health probe alone needs HTTP, every other command pays for it

    try:
        with urllib.request.urlopen(args.url, timeout=3) as answer:  # noqa: S310  (a URL the operator gives)
            return ExitStatus.OK if answer.status == 200 else ExitStatus.FAILED
    except (OSError, ValueError) as exc:
        print(
            _("mailbot: the bot did not answer its health check at {url} ({exc}).").format(url=args.url, exc=exc),
            file=sys.stderr,
        )
        return ExitStatus.FAILED


@dataclass(frozen=True)
class CliCommand:
    """A command of the terminal alone, beside the verbs (`bot.verbs.VERBS`) in the same parser: it
    starts the bot, writes the host's guard, or probes a running bot's health."""

    name: str
    summary: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS = {
    command.name: command
    for command in (
        CliCommand("serve", N_("run the Slack bot (Socket Mode unless --http)"), _configure_serve, _serve),
        CliCommand(
            "guard", N_("the host-side guard: its program and the authorized_keys line"), _configure_guard, _guard
        ),
        CliCommand("health", N_("exit 0 when a running bot answers its health check"), _configure_health, _health),
    )
}


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if _asks_version(words):
        print(f"mailbot {_version()}")
        return ExitStatus.OK
    # `--json` is for programs: its keys, values, hints and errors stay English whatever the language
    language = i18n.ENGLISH if "--json" in words else _chosen_language(words)
    with i18n.use_language(language):
        return _main(words)


def _chosen_language(words: Sequence[str]) -> str:
    """`--lang fr|en` (read before the parser is built, so that --help is translated too), else the
    terminal's locale (LC_ALL, LC_MESSAGES, LANG), else English."""
    for index, word in enumerate(words):
        if word == "--lang" and index + 1 < len(words):
            return i18n.normalise(words[index + 1]) or i18n.ENGLISH
        if word.startswith("--lang="):
            return i18n.normalise(word.removeprefix("--lang=")) or i18n.ENGLISH
    return i18n.language_from_environment()


def log_level(default: str) -> int:
    """MAILBOT_LOG_LEVEL (debug, info, warning, error, in any case), else `default`."""
    name = os.environ.get("MAILBOT_LOG_LEVEL", "").strip().upper() or default
    level = logging.getLevelNamesMapping().get(name)
    if level is None:
        raise ConfigError(
            _("MAILBOT_LOG_LEVEL={name} is not a log level: use debug, info, warning or error.").format(
                name=repr(name.lower())
            )
        )
    return level


class _NoTraceback(logging.Formatter):
    """Log lines on stderr: an exception as its type and message, the traceback only with MAILBOT_DEBUG=1."""

    def formatException(self, ei: Any) -> str:
        if os.environ.get("MAILBOT_DEBUG"):
            return super().formatException(ei)
        return "  " + _("({error}: {message}; MAILBOT_DEBUG=1 shows the traceback)").format(
            error=ei[0].__name__, message=ei[1]
        )

    def formatStack(self, stack_info: str) -> str:
        return super().formatStack(stack_info) if os.environ.get("MAILBOT_DEBUG") else ""


def _configure_logging() -> None:
    level = log_level("WARNING")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(observe.log_formatter(_NoTraceback))  # MAILBOT_LOG_FORMAT=json: one object a line
    logging.basicConfig(level=level, handlers=[handler], force=True)  # a command owns its process's logging
    logging.getLogger("paramiko").setLevel(logging.CRITICAL if level > logging.DEBUG else logging.NOTSET)


def _main(argv: Sequence[str]) -> int:
    pool = None
    context: Context | None = None
    try:
        _configure_logging()
        args = build_parser().parse_args(argv)
        if args.verb in COMMANDS:
            return COMMANDS[args.verb].run(args)
        verb = VERBS[args.verb]
        request = verb.validate(args)
        # A one-shot command: the cycle collector's passes over a big answer's records cost a busy
        # trace 0.8 s of its 3.8 s of CPU (bench/README.md), and what it leaves in cycles ends with
        # the process. Back on for a verb that follows on (it may run for long).
        gc.disable()
        from bot.config import load_config
        from bot.core import render
        from bot.core.registry import Context, StartsWatch, check_verb_names
        from bot.mailhost.ssh import HostPool

        config = check_verb_names(load_config(args.config), VERBS)
        pool = HostPool()
        context = Context(config=config, pool=pool, requester=_operator())
        _in_scope(verb, request, context)
        outcome = _observed(
            verb,
            lambda: _change(verb, request, args, context) if verb.changes_things else _read(verb, request, context),
        )
        if args.json:
            render.write_json(outcome.to_json(), sys.stdout)
        elif getattr(args, "csv", False) and hasattr(outcome, "to_csv"):
            sys.stdout.write(outcome.to_csv())
        else:
            render.write_text(outcome, sys.stdout)
        if isinstance(outcome, StartsWatch) and outcome.watch_id is not None and not args.json:
            from bot.periods.watches import follow

            gc.enable()
            sys.stdout.flush()
            return follow(outcome.watch_id, context, sys.stdout)
        return outcome.exit_code
    except MailbotError as exc:
        # argparse's mistakes already name their program (`mailbot trace: argument ...`)
        prefix = "" if exc.message.startswith(("mailbot:", "mailbot ")) else "mailbot: "
        print(f"{prefix}{exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(_("mailbot: interrupted."), file=sys.stderr)
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:  # `mailbot trace x --json | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitStatus.FAILED
    except Exception as exc:  # a bug: one line for the user, the traceback only on request
        if os.environ.get("MAILBOT_DEBUG"):
            raise
        print(
            _("mailbot: internal error ({name__}); run again with MAILBOT_DEBUG=1 for details.").format(
                name__=type(exc).__name__
            ),
            file=sys.stderr,
        )
        return ExitStatus.FAILED
    finally:
        if pool is not None:
            pool.close()
        if context is not None:
            context.close_state()


def _in_scope(verb: Verb, request: Any, context: Context) -> None:
    """`scopes:` for CLI users, by Unix name (bot.core.scopes); a refusal is audited, exit 2. The
    caller's scope goes in the context, for the verbs that list mail or resolve a mailbox."""
    from bot.core import scopes

    allowed = scopes.allowed_domains(context.config, context.requester, "cli", lambda group, user: False)
    refusal = scopes.refusal(context.config, verb.name, request, allowed, verb.lists_mail)
    if refusal is not None:
        scopes.audit_refusal(context, verb.name, request, allowed, verb.lists_mail)
        raise BadInput(refusal)
    if allowed is not None:
        context.scope = scopes.Scope(allowed, dict(context.config.domains), verb.name)


def _observed(verb: Verb, work: Callable[[], Outcome]) -> Outcome:
    """One command under its own request id (on its log lines, SSH's, and its audit records); its
    end is one log line (`MAILBOT_LOG_LEVEL=info`)."""
    started = time.monotonic()
    with observe.serving():
        try:
            outcome = work()
        except MailbotError as failure:
            result = "bad_input" if failure.exit_code == ExitStatus.BAD_INPUT else "failed"
            observe.answered(verb.name, "cli", result, time.monotonic() - started)
            raise
        observe.answered(verb.name, "cli", "ok" if outcome.exit_code == 0 else "failed", time.monotonic() - started)
    return outcome


def _read(verb: Verb, request: Any, context: Context) -> Outcome:
    assert verb.run is not None
    return verb.run(request, context)


def _change(verb: Verb, request: Any, args: argparse.Namespace, context: Context) -> Outcome:
    """A change from a terminal: the operator's --yes is the confirmation, audited under their name."""
    from bot.core import changes

    reason = changes.check_reason(verb, args.reason, context)
    if not args.yes:
        raise BadInput(
            _("`mailbot {name}` changes the mail system; add --yes to run it (it is audited).").format(name=verb.name)
        )
    change = changes.propose(verb, request, reason, "cli", context)
    if not context.state.requests.decide(change.id, context.requester, approve=True):
        raise MailbotError(
            _("Request {id} could not be approved: {why_undecided}").format(
                id=change.id, why_undecided=changes.why_undecided(change)
            )
        )
    return changes.carry_out(verb, change.id, context.requester, context)


def _operator() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


def entry_point() -> NoReturn:
    """The console script. Once the answer is out, the process ends without the interpreter's
    teardown: its last collection over every object and the freeing of each one cost a lab trace
    40-100 ms after its answer, and more for a big one (bench/startup.py, issue 24)."""
    code = main()
    startup.keep()  # what this start compiled, for the next ones
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)  # work still running in a thread of its own: the process waits for it, as always
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader left before the end: not done, and nothing to say about it
        code = ExitStatus.FAILED
    logging.shutdown()
    sys.stderr.flush()
    os._exit(code)
