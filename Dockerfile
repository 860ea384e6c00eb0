# mailbot: the Slack bot and CLI. Builds the same with Docker and with podman (see .ci/image).
#
#   docker build -t mailbot .
#   docker run -d --name mailbot --read-only --tmpfs /tmp \
#     -v /srv/mailbot:/etc/mailbot:ro -v mailbot-state:/var/lib/mailbot \
#     -e SLACK_BOT_TOKEN -e SLACK_APP_TOKEN mailbot
#
# /etc/mailbot (read-only) holds mailbot.yaml, the SSH key (readable by uid 10001) and the pinned
# known_hosts; in the YAML, `state: {path: /var/lib/mailbot/mailbot.db}` keeps the state writable.
# Behind an intercepting TLS proxy: --build-arg PIP_CERT=/path/in/build/ca.crt (unset by default).

FROM debian:bookworm-slim AS build

ARG PIP_CERT
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/mailbot

WORKDIR /src
# The dependencies first, from pyproject.toml alone: a change in the code reuses this layer.
COPY pyproject.toml ./
RUN python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > /tmp/requirements.txt \
    && /opt/mailbot/bin/pip install -r /tmp/requirements.txt
COPY README.md ./
COPY bot ./bot
# The runtime needs neither pip nor setuptools (25 MB): they go once the bot is in. Nor Babel's
# data for the ~1100 locales the bot has no catalogue for (about 30 MB): root and its languages stay.
# The catalogues are compiled here once, beside their .po: a start reads them (1 ms, not 52-83 ms).
RUN /opt/mailbot/bin/pip install --no-deps . \
    && /opt/mailbot/bin/pip uninstall -y -q pip setuptools \
    && /opt/mailbot/bin/python -c 'import pathlib, babel, bot.i18n as i18n; keep = {"root", *i18n.LANGUAGES}; data = pathlib.Path(babel.__file__).parent / "locale-data"; [f.unlink() for f in data.glob("*.dat") if f.stem.split("_")[0] not in keep]' \
    && /opt/mailbot/bin/python -c 'import bot.i18n as i18n; i18n.compile_catalogues()' \
    && /opt/mailbot/bin/mailbot --help > /dev/null


FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 mailbot \
    && useradd --uid 10001 --gid 10001 --home-dir /var/lib/mailbot --no-create-home --shell /usr/sbin/nologin mailbot \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/mailbot \
    && install -d -m 0755 /etc/mailbot

COPY --from=build /opt/mailbot /opt/mailbot

ENV PATH=/opt/mailbot/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MAILBOT_CONFIG=/etc/mailbot/mailbot.yaml \
    MAILBOT_HEALTH_URL=http://127.0.0.1:8080/health

WORKDIR /var/lib/mailbot
USER 10001:10001

# 3000: HTTP mode (`mailbot serve --http`: /slack/events and /health); 8080: /health in Socket Mode.
EXPOSE 3000 8080

# Socket Mode's health port by default; in HTTP mode set MAILBOT_HEALTH_URL=http://127.0.0.1:3000/health.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["sh", "-c", "exec mailbot health --url \"$MAILBOT_HEALTH_URL\""]

# The bot finishes the work in flight on SIGTERM, then exits 0.
STOPSIGNAL SIGTERM
CMD ["mailbot", "serve", "--health-port", "8080"]
