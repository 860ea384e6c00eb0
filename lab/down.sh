#!/usr/bin/env bash
# lab/down.sh: stop the lab's sshd (only the one started by lab/up.sh), Postfix (the backend and
# the edge relay) and Cyrus.
# Idempotent: stopping what is already stopped is fine. Data (mailboxes, queue, logs) is kept.
set -euo pipefail
LAB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN="$LAB/run"
say() { printf 'down.sh: %s\n' "$*"; }
# alive PID: exists and is not a zombie (nothing may reap orphans when PID 1 is not an init)
alive() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

# stop_pidfile PIDFILE NAME: TERM the process of PIDFILE if it really is NAME, wait, then KILL
stop_pidfile() {
    local f=$1 name=$2 pid
    [ -s "$f" ] || { say "$name: not running (no pid file)"; return 0; }
    pid=$(head -n1 "$f" | tr -dc 0-9)
    if [ -n "$pid" ] && alive "$pid" && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$name"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
        alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
        say "$name: stopped (pid $pid)"
    else
        say "$name: not running (stale pid file)"
    fi
    rm -f "$f"
}

stop_pidfile "$RUN/sshd.pid" "sshd"

# Postfix: the edge relay (instance postfix-edge), then the backend ("-"), one at a time, so
# that one already stopped does not keep the other running
for instance in postfix-edge -; do
    label=postfix; [ "$instance" = - ] || label=$instance
    if command -v postmulti >/dev/null && postmulti -i "$instance" -p status >/dev/null 2>&1; then
        postmulti -i "$instance" -p stop >/dev/null 2>&1 || true
        for _ in $(seq 50); do postmulti -i "$instance" -p status >/dev/null 2>&1 || break; sleep 0.1; done
        say "$label: stopped"
    else
        say "$label: not running"
    fi
done

stop_pidfile "$RUN/cyrus.pid" "cyrmaster"
# children left behind by a master that died (they would hold ports 143/2400)
if id cyrus >/dev/null 2>&1; then
    # orphans only: cyrus-owned imapd/lmtpd whose parent is init (their master is gone)
    for p in $(ps -u cyrus -o pid=,ppid=,comm= | awk '$2 == 1 && ($3 == "imapd" || $3 == "lmtpd") {print $1}'); do
        kill -TERM "$p" 2>/dev/null || true
    done
fi
exit 0
