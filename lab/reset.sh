#!/usr/bin/env bash
# lab/reset.sh: back to an empty lab: stops everything, deletes all Cyrus mailboxes and mails,
# the Postfix queues (backend and edge relay) and /var/log/mail.log*, /var/log/mail-edge.log*,
# then runs lab/up.sh (which recreates the mailboxes, sends one welcome mail to john@lab.test and
# checks it is delivered). Keys in lab/run/ are kept.
set -euo pipefail
LAB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ "$(id -u)" = 0 ] || { echo "reset.sh: run as root" >&2; exit 1; }
bash "$LAB/down.sh" >/dev/null
if [ -d /var/lib/cyrus ]; then
    rm -rf /var/lib/cyrus/mailboxes.db /var/lib/cyrus/annotations.db /var/lib/cyrus/deliver.db \
           /var/lib/cyrus/db /var/lib/cyrus/db.backup* /var/lib/cyrus/domain
    find /var/lib/cyrus/user /var/lib/cyrus/quota -mindepth 1 -delete 2>/dev/null || true
    install -d -o cyrus -g mail -m 700 /var/lib/cyrus/db
fi
[ -d /var/spool/cyrus/mail ] && rm -rf /var/spool/cyrus/mail/domain /var/spool/cyrus/mail/uuid
command -v postsuper >/dev/null && postsuper -d ALL >/dev/null 2>&1 || true
[ -d /etc/postfix-edge ] && { postsuper -c /etc/postfix-edge -d ALL >/dev/null 2>&1 || true; }
rm -f /var/log/mail.log /var/log/mail.log.[0-9]* /var/log/mail-edge.log /var/log/mail-edge.log.[0-9]*
echo "reset.sh: lab data wiped"
exec bash "$LAB/up.sh"
