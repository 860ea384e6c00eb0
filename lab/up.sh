#!/usr/bin/env bash
# lab/up.sh: bring up the local stand-in of a BlueMind 4 mail host (Debian 12, run as root).
#   OpenSSH on 127.0.0.1:2222 (own config + host key under lab/run/ssh), account bmsupport
#   Postfix (system instance) smtpd on 127.0.0.1:2525, log in /var/log/mail.log (root:adm 0640)
#   Postfix edge relay (second instance postfix-edge, postmulti, /etc/postfix-edge): smtpd on
#     127.0.0.1:2526, long queue ids, relays lab.test to [127.0.0.1]:2525, log /var/log/mail-edge.log
#   Cyrus IMAP 3.6: imap 127.0.0.1:143, lmtp 127.0.0.1:2400, virtual domain lab.test
# Idempotent: a second run only checks that everything is up and restarts what is down.
# Works without systemd. Writes lab/mailbot-lab.yaml at the end.
set -euo pipefail

T0=$(date +%s.%N)
LAB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN="$LAB/run"
SSHDIR="$RUN/ssh"
GUARD=/usr/local/lib/mailbot-guard  # the bot's key runs only the bot's command shapes (section 8)
LOG=/var/log/mail.log
EDGE=/etc/postfix-edge           # the edge relay's config directory (Postfix instance postfix-edge)
EDGE_LOG=/var/log/mail-edge.log
EDGE_PORT=2526
SSH_PORT=2222
LAB_PASS=labpass
PKGS=(openssh-server postfix cyrus-imapd cyrus-admin sasl2-bin swaks sudo procps netcat-openbsd pigz)
# Users with a Cyrus mailbox (quota in KB, empty = none). ghost@lab.test is in Postfix's map only.
CYRUS_USERS=(john marie.durand rh compta ceo bob.martin full quota2 alert1 watch1)  # alert1, watch1: the alert tests (issue 15)
declare -A QUOTA=([full]=10 [quota2]=10 [alert1]=10 [watch1]=10)
MAP_ONLY_USERS=(ghost)
SHARED=projet  # a shared mailbox (mailshare): projet@lab.test
# pleine@lab.test: over quota for the French answers' tests alone (tests/test_i18n.py fills it)
CYRUS_USERS+=(pleine)
QUOTA[pleine]=10
# stuck@lab.test: over quota for traffic.sh's held, deleted and expired mails (issue 22)
CYRUS_USERS+=(stuck)
QUOTA[stuck]=10
CHANGES=()

say() { printf 'up.sh: %s\n' "$*"; }
die() { printf 'up.sh: ERROR: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root"

# --- 1. packages -------------------------------------------------------------------------------
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    printf '%s\n' "postfix postfix/main_mailer_type select No configuration" \
                  "postfix postfix/mailname string mail.lab.test" | debconf-set-selections
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; own_policy=1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
    [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    CHANGES+=(packages)
fi

# write_if_changed DEST MODE: stdin -> DEST only when the content differs; returns 0 if written.
write_if_changed() {
    local dest=$1 mode=${2:-0644} tmp
    tmp=$(mktemp)
    cat > "$tmp"
    if [ -f "$dest" ] && cmp -s "$tmp" "$dest"; then rm -f "$tmp"; return 1; fi
    install -m "$mode" "$tmp" "$dest"; rm -f "$tmp"; return 0
}
# pid_alive PIDFILE NAME: the pid in PIDFILE runs a process whose command line contains NAME
pid_alive() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(head -n1 "$1" | tr -dc 0-9)
    [ -n "$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] && { tr '\0' ' ' < "/proc/$pid/cmdline"; } 2>/dev/null | grep -q -- "$2"
}

mkdir -p "$RUN" "$SSHDIR"
chmod 755 "$RUN"

# --- 2. account bmsupport, keys, sudo ----------------------------------------------------------
if ! id bmsupport >/dev/null 2>&1; then
    useradd --create-home --home-dir /home/bmsupport --shell /bin/bash --groups adm bmsupport
    CHANGES+=(user)
fi
id -nG bmsupport | tr ' ' '\n' | grep -qx adm || usermod -aG adm bmsupport
# "*" = no password usable, but not "locked" ("!"), which sshd would refuse even for keys.
[ "$(getent shadow bmsupport | cut -d: -f2)" = '*' ] || usermod -p '*' bmsupport
[ -f "$SSHDIR/bot_key" ] || { ssh-keygen -q -t ed25519 -N '' -C mailbot@lab -f "$SSHDIR/bot_key"; CHANGES+=(bot_key); }
# the bot's second key, for approved changes only (its guard allows the write shapes, bot_key's the reads)
[ -f "$SSHDIR/change_key" ] || { ssh-keygen -q -t ed25519 -N '' -C mailbot-change@lab -f "$SSHDIR/change_key"; CHANGES+=(change_key); }
[ -f "$SSHDIR/ssh_host_ed25519_key" ] || { ssh-keygen -q -t ed25519 -N '' -C lab-host -f "$SSHDIR/ssh_host_ed25519_key"; CHANGES+=(host_key); }
chmod 600 "$SSHDIR/bot_key" "$SSHDIR/change_key" "$SSHDIR/ssh_host_ed25519_key"
install -d -m 700 -o bmsupport -g bmsupport /home/bmsupport/.ssh
# Two keys for bmsupport: the bot's, forced through the guard (section 8), and the lab's own,
# unrestricted, for what is not the bot (these checks, the SSH executor's tests, the benchmark).
[ -f "$SSHDIR/lab_admin_key" ] || ssh-keygen -q -t ed25519 -N '' -C lab-admin@lab -f "$SSHDIR/lab_admin_key"
chmod 600 "$SSHDIR/lab_admin_key"
ADMIN_KEY_LINE="restrict $(cut -d' ' -f1,2 "$SSHDIR/lab_admin_key.pub") lab-admin@lab"
grep -qxF "$ADMIN_KEY_LINE" /home/bmsupport/.ssh/authorized_keys 2>/dev/null \
    || printf '%s\n' "$ADMIN_KEY_LINE" | write_if_changed /home/bmsupport/.ssh/authorized_keys 0600 || true
chown bmsupport:bmsupport /home/bmsupport/.ssh/authorized_keys
install -d -m 755 /var/log/mailbot-guard
for account in bmsupport bmslow; do
    [ -f "/var/log/mailbot-guard/$account.log" ] || install -m 600 /dev/null "/var/log/mailbot-guard/$account.log"
done
# bmslow: the same host seen through a slow link. Its forced command waits 5 s before a trace,
# so tests can check that slow hosts never make Slack miss its 3-second acknowledgement.
if ! id bmslow >/dev/null 2>&1; then
    useradd --create-home --home-dir /home/bmslow --shell /bin/bash --groups adm bmslow
    CHANGES+=(slow-user)
fi
[ "$(getent shadow bmslow | cut -d: -f2)" = '*' ] || usermod -p '*' bmslow
install -d -m 700 -o bmslow -g bmslow /home/bmslow/.ssh
printf 'command="case \\"$SSH_ORIGINAL_COMMAND\\" in *mailbot-trace*) sleep 5;; esac; exec %s --log /var/log/mailbot-guard/bmslow.log read",restrict %s\n' \
    "$GUARD" "$(cat "$SSHDIR/bot_key.pub")" | write_if_changed /home/bmslow/.ssh/authorized_keys 0600 && CHANGES+=(slow-keys) || true
chown bmslow:bmslow /home/bmslow/.ssh/authorized_keys
chown bmsupport /var/log/mailbot-guard/bmsupport.log; chown bmslow /var/log/mailbot-guard/bmslow.log
printf '[127.0.0.1]:%s %s\n' "$SSH_PORT" "$(cut -d' ' -f1,2 "$SSHDIR/ssh_host_ed25519_key.pub")" \
    | write_if_changed "$SSHDIR/known_hosts" 0644 || true

SUDOERS=/etc/sudoers.d/mailbot-lab
cat > "$RUN/sudoers.tmp" <<'EOF'
# Written by lab/up.sh: what the bot's account may run, exact tools by absolute path.
Defaults:bmsupport !lecture, !syslog
bmsupport ALL=(root) NOPASSWD: /usr/sbin/postqueue -f, /usr/sbin/postqueue -i *, /usr/sbin/postcat -hq *, /usr/sbin/postsuper -r *
# the same for the edge relay (Postfix instance postfix-edge)
bmsupport ALL=(root) NOPASSWD: /usr/sbin/postqueue -c /etc/postfix-edge -f, /usr/sbin/postqueue -c /etc/postfix-edge -i *
bmsupport ALL=(root) NOPASSWD: /usr/sbin/postmap hash\:/etc/postfix/lab_virtual_mailboxes, /usr/sbin/postmap hash\:/etc/postfix/lab_virtual_alias, /usr/sbin/postfix reload
bmsupport ALL=(cyrus) NOPASSWD: /usr/lib/cyrus/bin/unexpunge *, /usr/lib/cyrus/bin/mbpath *, /usr/lib/cyrus/bin/mbexamine *
# a mail file's headers: one spool file ("N."), no other argument, no ".." (sudo 1.9.10+ regex)
bmsupport ALL=(cyrus) NOPASSWD: /usr/bin/head ^-c 65536 -- /var/spool/cyrus/mail(/[A-Za-z0-9_^&,+=-][A-Za-z0-9._^&,+=-]*)+/[0-9]+\.$
# the bm-cli stand-in (BlueMind's bm-cli needs root too: it reads the admin token)
bmsupport ALL=(root) NOPASSWD: /usr/local/bin/bm-cli --version, /usr/local/bin/bm-cli user get *, /usr/local/bin/bm-cli mail history-imap *, /usr/local/bin/bm-cli mail history-query *, /usr/local/bin/bm-cli mail unexpunge *
bmsupport ALL=(root) NOPASSWD: /usr/local/bin/bm-cli mail history-guid *, /usr/local/bin/bm-cli maintenance list *, /usr/local/bin/bm-cli maintenance repair *
EOF
visudo -c -q -f "$RUN/sudoers.tmp" >/dev/null || die "sudoers rules do not validate"
write_if_changed "$SUDOERS" 0440 < "$RUN/sudoers.tmp" && CHANGES+=(sudoers) || true
rm -f "$RUN/sudoers.tmp"
visudo -c -q >/dev/null || die "visudo -c failed"
# sudo warns "unable to resolve host" on stderr when the hostname is not resolvable
if ! getent hosts "$(hostname)" >/dev/null 2>&1; then
    printf '127.0.1.1\t%s\n' "$(hostname)" >> /etc/hosts
fi

# --- 3. sshd -----------------------------------------------------------------------------------
write_if_changed "$RUN/sshd_config" 0644 <<EOF && CHANGES+=(sshd_config) || true
# Written by lab/up.sh: the lab's own sshd (not the system one).
Port $SSH_PORT
ListenAddress 127.0.0.1
AddressFamily inet
HostKey $SSHDIR/ssh_host_ed25519_key
PidFile $RUN/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
PermitRootLogin no
AllowUsers bmsupport bmslow
UsePAM no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PermitTunnel no
PrintMotd no
LogLevel ERROR
Subsystem sftp internal-sftp
EOF
install -d -m 755 /run/sshd
/usr/sbin/sshd -t -f "$RUN/sshd_config" || die "sshd config test failed"
# The lab is one per machine, but each checkout has its own keys: a lab started from another
# checkout holds the port with a host key this one's known_hosts refuses. This checkout's replaces it.
for proc in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' < "$proc/cmdline" 2>/dev/null) || continue
    if [[ "$cmd" == *"sshd -f "*"/lab/run/sshd_config"* && "$cmd" != *"sshd -f $RUN/sshd_config"* ]]; then
        kill "${proc#/proc/}" 2>/dev/null && say "stopped the lab sshd of another checkout (${cmd%% \[*})"
        sleep 0.3
    fi
done
if pid_alive "$RUN/sshd.pid" sshd; then
    if [[ " ${CHANGES[*]} " == *" sshd_config "* || " ${CHANGES[*]} " == *" host_key "* ]]; then
        kill -HUP "$(cat "$RUN/sshd.pid")"; say "sshd reloaded"
    fi
else
    rm -f "$RUN/sshd.pid"
    /usr/sbin/sshd -f "$RUN/sshd_config"
    CHANGES+=(sshd-started)
fi

# --- 4. Cyrus IMAP -----------------------------------------------------------------------------
[ -f /etc/imapd.conf.dist ] || cp -p /etc/imapd.conf /etc/imapd.conf.dist
write_if_changed /etc/imapd.conf 0644 <<'EOF' && CHANGES+=(imapd.conf) || true
# Written by lab/up.sh (Debian's original: /etc/imapd.conf.dist). BlueMind-4-like settings.
configdirectory: /var/lib/cyrus
proc_path: /run/cyrus/proc
mboxname_lockpath: /run/cyrus/lock
defaultpartition: default
partition-default: /var/spool/cyrus/mail
partition-news: /var/spool/cyrus/news
newsspool: /var/spool/news
hashimapspool: true
mailbox_legacy_dirs: yes
altnamespace: no
unixhierarchysep: yes
virtdomains: userid
admins: cyrus
lmtp_downcase_rcpt: yes
allowanonymouslogin: no
allowplaintext: yes
sasl_mech_list: PLAIN LOGIN
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_auto_transition: no
autocreate_quota: 0
quotawarn: 90
lmtp_over_quota_perm_failure: no
delete_mode: delayed
expunge_mode: delayed
umask: 077
sieveusehomedir: false
sievedir: /var/spool/sieve
lmtpsocket: /run/cyrus/socket/lmtp
idlesocket: /run/cyrus/socket/idle
notifysocket: /run/cyrus/socket/notify
syslog_prefix: cyrus
EOF
write_if_changed "$RUN/cyrus.conf" 0644 <<'EOF' && CHANGES+=(cyrus.conf) || true
# Written by lab/up.sh: Cyrus services of the lab (loopback only).
START {
  recover   cmd="/usr/lib/cyrus/bin/ctl_cyrusdb -r"
}
SERVICES {
  imap      cmd="imapd -U 30" listen="127.0.0.1:143" prefork=0 maxchild=20
  # -a: connections on the inet socket are pre-authorised (Postfix delivers without AUTH)
  lmtp      cmd="lmtpd -a" listen="127.0.0.1:2400" prefork=0 maxchild=10
}
EVENTS {
  checkpoint    cmd="/usr/lib/cyrus/bin/ctl_cyrusdb -c" period=30
  delprune      cmd="/usr/lib/cyrus/bin/cyr_expire -E 3" at=0401
  deleteprune   cmd="/usr/lib/cyrus/bin/cyr_expire -E 4 -D 7" at=0430
  expungeprune  cmd="/usr/lib/cyrus/bin/cyr_expire -E 4 -X 7" at=0445
}
EOF
chmod 644 "$RUN/cyrus.conf"
for d in /run/cyrus /run/cyrus/socket /run/cyrus/proc /run/cyrus/lock; do
    install -d -o cyrus -g mail -m 750 "$d"
done
chmod 755 /run/cyrus
start_cyrus() {
    rm -f "$RUN/cyrus.pid"
    /usr/sbin/cyrmaster -d -C /etc/imapd.conf -M "$RUN/cyrus.conf" -p "$RUN/cyrus.pid"
    CHANGES+=(cyrus-started)
}
if pid_alive "$RUN/cyrus.pid" cyrmaster; then
    if [[ " ${CHANGES[*]} " == *" imapd.conf "* || " ${CHANGES[*]} " == *" cyrus.conf "* ]]; then
        kill -TERM "$(cat "$RUN/cyrus.pid")"
        for _ in $(seq 50); do pid_alive "$RUN/cyrus.pid" cyrmaster || break; sleep 0.1; done
        start_cyrus; say "cyrus restarted (config changed)"
    fi
else
    # a dead master may leave children (after a crash): they hold the ports
    for p in $(ps -u cyrus -o pid=,ppid=,comm= | awk '$2 == 1 && ($3 == "imapd" || $3 == "lmtpd") {print $1}'); do
        kill -TERM "$p" 2>/dev/null || true
    done
    start_cyrus
fi

# SASL accounts (sasldb): cyrus (admin) and every mailbox user, password $LAB_PASS
sasl_users=$(sasldblistusers2 2>/dev/null | cut -d: -f1 || true)
add_sasl() { # add_sasl USER [REALM]
    local who=$1${2:+@$2}
    grep -qx -- "$who" <<<"$sasl_users" && return 0
    if [ -n "${2:-}" ]; then printf '%s' "$LAB_PASS" | saslpasswd2 -p -c -u "$2" "$1"
    else printf '%s' "$LAB_PASS" | saslpasswd2 -p -c "$1"; fi
    CHANGES+=(sasl-users)
}
add_sasl cyrus "$(hostname)"
for u in "${CYRUS_USERS[@]}"; do add_sasl "$u" lab.test; done
chown root:sasl /etc/sasldb2 && chmod 640 /etc/sasldb2
id -nG cyrus | tr ' ' '\n' | grep -qx sasl || usermod -aG sasl cyrus

# wait for imap and lmtp to listen
for _ in $(seq 100); do
    nc -z 127.0.0.1 143 2>/dev/null && nc -z 127.0.0.1 2400 2>/dev/null && break; sleep 0.1
done
nc -z 127.0.0.1 143 && nc -z 127.0.0.1 2400 || die "cyrus does not listen on 143/2400"

# mailboxes and quotas (idempotent, through IMAP as the admin)
quota_args=()
for u in "${!QUOTA[@]}"; do quota_args+=(--quota "user/$u@lab.test=${QUOTA[$u]}"); done
mb_args=()
for u in "${CYRUS_USERS[@]}"; do mb_args+=("user/$u@lab.test"); done
created=$(python3 "$LAB/bin/imap_admin.py" ensure "${quota_args[@]}" \
    "${mb_args[@]}" user/john/Archives@lab.test user/john/Trash@lab.test "$SHARED@lab.test") || die "mailbox setup failed"
[ -n "$created" ] && { say "created mailboxes: $created"; CHANGES+=(mailboxes); }
# the shared mailbox (a BlueMind "mailshare") where john may file mail
python3 "$LAB/bin/imap_admin.py" setacl "$SHARED@lab.test" john@lab.test lrswipkxtecdan >/dev/null \
    || die "ACL of $SHARED@lab.test"
# the bm-cli stand-in (named so in its --version): BlueMind's own cannot be installed here. An
# emulator per BlueMind version, switched by /etc/mailbot-lab/bm-cli.conf (absent = defaults: never
# written nor removed here; see lab/README.md), with its emulated bm-core's log in /var/log/bm
write_if_changed /usr/local/bin/bm-cli 0755 < "$LAB/bin/bm-cli" && CHANGES+=(bm-cli) || true
install -d -m 755 /etc/mailbot-lab /var/log/bm

# --- 5. Postfix --------------------------------------------------------------------------------
PF=/etc/postfix
if [ ! -f /etc/aliases ]; then printf 'postmaster: root\n' > /etc/aliases; fi
write_if_changed $PF/main.cf 0644 <<EOF && CHANGES+=(main.cf) || true
# Written by lab/up.sh: Postfix of the mailbot lab (BlueMind-like, loopback only).
compatibility_level = 3.6
myhostname = mail.lab.test
mydomain = lab.test
myorigin = \$mydomain
mydestination = localhost
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
biff = no
append_dot_mydomain = no
readme_directory = no
alias_maps = hash:/etc/aliases
alias_database = hash:/etc/aliases
smtpd_banner = \$myhostname ESMTP \$mail_name
maillog_file = $LOG

virtual_mailbox_domains = lab.test
virtual_mailbox_maps = hash:$PF/lab_virtual_mailboxes
virtual_alias_domains = lab-alias.test
virtual_alias_maps = hash:$PF/lab_virtual_alias
virtual_transport = lmtp:inet:127.0.0.1:2400

smtpd_relay_restrictions = reject_unauth_destination
smtpd_sender_restrictions = check_sender_access hash:$PF/lab_sender_access
smtpd_recipient_restrictions = reject_unlisted_recipient, reject_unauth_destination
smtpd_reject_unlisted_recipient = yes
# rules: a subject tagged [quarantaine] waits in the hold queue, one tagged [pour la compta] goes to
# compta@lab.test whoever it was sent to (traffic.sh, issue 22)
header_checks = regexp:$PF/lab_header_checks

# like BlueMind: undeliverable mail (over quota) waits 3 days before bouncing
maximal_queue_lifetime = 3d
bounce_queue_lifetime = 3d
queue_run_delay = 60s
minimal_backoff_time = 60s
maximal_backoff_time = 300s

# the edge relay is a second instance (what "postmulti -e init" and "postmulti -e create" write):
# "postfix start", "stop", "reload" and "status" act on both, "postmulti -i NAME -p CMD" on one
multi_instance_directories = $EDGE
multi_instance_enable = yes
multi_instance_wrapper = \${command_directory}/postmulti -p --
EOF
write_if_changed $PF/lab_virtual_mailboxes 0644 <<EOF && CHANGES+=(maps) || true
# Written by lab/up.sh. ghost@lab.test is listed here but has no Cyrus mailbox (stale map).
$(for u in "${CYRUS_USERS[@]}" "${MAP_ONLY_USERS[@]}"; do printf '%s@lab.test OK\n' "$u"; done)
EOF
write_if_changed $PF/lab_virtual_alias 0644 <<'EOF' && CHANGES+=(maps) || true
# Written by lab/up.sh
jdoe@lab.test   john@lab.test
@lab-alias.test @lab.test
EOF
write_if_changed $PF/lab_header_checks 0644 <<'EOF' && CHANGES+=(maps) || true
# Written by lab/up.sh (a regexp table: no postmap)
/^Subject: .*\[quarantaine\]/ HOLD quarantaine: facture a verifier
/^Subject: .*\[pour la compta\]/ REDIRECT compta@lab.test
EOF
write_if_changed $PF/lab_sender_access 0644 <<'EOF' && CHANGES+=(maps) || true
# Written by lab/up.sh
spammer@bad.example  REJECT Sender address blacklisted
EOF
for m in lab_virtual_mailboxes lab_virtual_alias lab_sender_access; do
    [ $PF/$m.db -nt $PF/$m ] || postmap hash:$PF/$m
done
[ /etc/aliases.db -nt /etc/aliases ] || newaliases

[ -f $PF/master.cf.dist ] || cp -p $PF/master.cf $PF/master.cf.dist
# build master.cf from Debian's, for the backend and for the edge relay (section below): no port
# 25, smtpd on 127.0.0.1:2525 (edge: :2526) only, nothing chrooted (chroot needs copies of /etc
# files that only Debian's init script makes)
python3 - "$PF/master.cf.dist" 127.0.0.1:2525 "$RUN/master.cf.new" 127.0.0.1:$EDGE_PORT "$RUN/master-edge.cf.new" <<'PY'
import re, sys
src, *targets = sys.argv[1:]
base = []
for line in open(src):
    if re.match(r'^smtp\s+inet\s', line):
        line = '#' + line
    m = re.match(r'^(\S+\s+\S+\s+\S+\s+\S+\s+)(\S+)(\s+.*)$', line)
    if m and not line.startswith('#') and not line[0].isspace() and m.group(2) == 'y':
        line = m.group(1) + 'n' + m.group(3) + '\n'
    base.append(line)
for listen, dest in zip(targets[::2], targets[1::2]):
    open(dest, 'w').write(''.join(base) + f'{listen} inet  n       -       n       -       -       smtpd\n')
PY
write_if_changed $PF/master.cf 0644 < "$RUN/master.cf.new" && CHANGES+=(master.cf) || true
rm -f "$RUN/master.cf.new"

# the edge relay: a second Postfix instance in front of the backend above, managed by postmulti
# (the files `postmulti -I postfix-edge -G mta -e create` would make, written here so that each
# run is idempotent); own queue /var/spool/postfix-edge, long queue ids, own log
install -d -m 755 $EDGE
write_if_changed $EDGE/main.cf 0644 <<EOF && CHANGES+=(edge-main.cf) || true
# Written by lab/up.sh: the edge relay of the mailbot lab (Postfix instance postfix-edge, postmulti).
# Mail for lab.test comes in on 127.0.0.1:$EDGE_PORT and is relayed to the backend at [127.0.0.1]:2525.
compatibility_level = 3.6
multi_instance_name = postfix-edge
multi_instance_group = mta
multi_instance_enable = yes
queue_directory = /var/spool/postfix-edge
data_directory = /var/lib/postfix-edge
myhostname = edge.lab.test
mydomain = lab.test
myorigin = \$mydomain
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
biff = no
append_dot_mydomain = no
readme_directory = no
smtpd_banner = \$myhostname ESMTP \$mail_name
maillog_file = $EDGE_LOG
enable_long_queue_ids = yes

relay_domains = lab.test, lab-alias.test
relay_transport = smtp:[127.0.0.1]:2525
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = reject_unauth_destination
maximal_queue_lifetime = 3d
bounce_queue_lifetime = 3d
EOF
write_if_changed $EDGE/master.cf 0644 < "$RUN/master-edge.cf.new" && CHANGES+=(edge-master.cf) || true
rm -f "$RUN/master-edge.cf.new"

# the logs: group adm may read them (bmsupport is in adm)
for f in "$LOG" "$LOG".[0-9]* "$EDGE_LOG" "$EDGE_LOG".[0-9]*; do
    [ -e "$f" ] || continue
    chown root:adm "$f"; chmod 0640 "$f"
done
for f in "$LOG" "$EDGE_LOG"; do [ -e "$f" ] || install -m 0640 -o root -g adm /dev/null "$f"; done

# the edge's queue and data directories (postmulti's create makes them like this); "postfix check"
# then makes what is missing inside, for both instances
install -d -m 755 /var/spool/postfix-edge
install -d -m 700 -o postfix -g root /var/lib/postfix-edge
postfix check >/dev/null 2>&1 || postfix check
# start_instance NAME PORT TAG CHANGED...: start one instance (postmulti -i NAME; "-" is the
# backend), or reload it when one of the CHANGED tags is in CHANGES; no systemd
start_instance() {
    local name=$1 port=$2 tag=$3 c; shift 3
    if postmulti -i "$name" -p status >/dev/null 2>&1; then
        for c in "$@"; do
            if [[ " ${CHANGES[*]} " == *" $c "* ]]; then
                postmulti -i "$name" -p reload >/dev/null 2>&1; say "$tag reloaded"; break
            fi
        done
    else
        postmulti -i "$name" -p start >/dev/null 2>&1 || { postmulti -i "$name" -p start; die "$tag did not start"; }
        CHANGES+=("$tag-started")
        # (a port probe shows in the log as "lost connection after CONNECT": only after a start)
        for _ in $(seq 100); do nc -z 127.0.0.1 "$port" 2>/dev/null && break; sleep 0.1; done
        nc -z 127.0.0.1 "$port" || die "$tag does not listen on 127.0.0.1:$port"
    fi
}
start_instance - 2525 postfix main.cf master.cf
start_instance postfix-edge "$EDGE_PORT" postfix-edge edge-main.cf edge-master.cf

# --- 6. checks ---------------------------------------------------------------------------------
for _ in $(seq 50); do nc -z 127.0.0.1 $SSH_PORT 2>/dev/null && break; sleep 0.1; done
SSH=(ssh -p $SSH_PORT -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o BatchMode=yes
     -o UserKnownHostsFile="$SSHDIR/known_hosts" -o ConnectTimeout=5 -i "$SSHDIR/lab_admin_key" bmsupport@127.0.0.1)
# (the edge relay too: its log, and its queue through postqueue -c)
out=$("${SSH[@]}" "test -r $LOG && /usr/sbin/postqueue -j >/dev/null && sudo -n -u cyrus /usr/lib/cyrus/bin/mbpath user/john@lab.test \
    && test -r $EDGE_LOG && /usr/sbin/postqueue -c $EDGE -j >/dev/null" 2>&1) || die "ssh check failed: $out"
# LMTP answers for a mailbox (no mail sent): 250 2.1.5 to RCPT TO
lmtp=$(python3 "$LAB/bin/imap_admin.py" lmtp-probe john@lab.test) || die "LMTP probe failed: $lmtp"

# deliver_and_wait PORT LOG SUBJECT EXPECTED FAILURE LABEL: one real mail to john@lab.test through the
# smtpd on PORT, then wait (20 s) until LOG shows its delivery attempt with status=EXPECTED...
deliver_and_wait() {
    local port=$1 log=$2 subject=$3 expected=$4 failure=$5 label=$6 mark qid ok=0
    mark="lab-check-$(date +%s%N)"
    swaks --silent 2 -s 127.0.0.1 -p "$port" --helo client.partner.example -f alice@partner.example \
        -t john@lab.test --header "Subject: $subject" --header "Message-Id: <$mark@partner.example>" \
        --body "$subject, dans le lab." >/dev/null
    for _ in $(seq 100); do
        qid=$(grep -F "message-id=<$mark@partner.example>" "$log" | sed -n 's/.*: \([0-9A-Za-z]\{6,\}\): message-id=.*/\1/p' | head -n1)
        if [ -n "$qid" ] && grep -F "$qid: to=<john@lab.test>" "$log" | grep -qF "status=$expected"; then ok=1; break; fi
        sleep 0.2
    done
    [ $ok = 1 ] || die "$failure (see $log)"
    say "$label: $(grep -F "$qid: to=<john@lab.test>" "$log" | tail -n1 | sed 's/.*status=/status=/')"
}
# first setup: one real mail through Postfix -> LMTP -> Cyrus must end status=sent
if [[ " ${CHANGES[*]} " == *" mailboxes "* ]]; then
    deliver_and_wait 2525 "$LOG" "Bienvenue" "sent (250 2.1.5" \
        "first delivery to john@lab.test not seen as status=sent" "delivery check"
fi
# the edge relay (re)configured: one real mail through it must be handed to the backend
if [[ " ${CHANGES[*]} " == *" edge-main.cf "* || " ${CHANGES[*]} " == *" edge-master.cf "* ]]; then
    deliver_and_wait "$EDGE_PORT" "$EDGE_LOG" "Bienvenue par le relais" "sent (250 2.0.0 Ok: queued as " \
        "the edge relay did not hand a mail for john@lab.test to the backend" "edge check"
fi

# --- 7. the bot's config -----------------------------------------------------------------------
cat > "$LAB/mailbot-lab.yaml" <<EOF
# Written by lab/up.sh: the bot's config for the local lab. Regenerated on each run.
hosts:
  - name: lab
    address: 127.0.0.1
    port: $SSH_PORT
    user: bmsupport
    key_file: run/ssh/bot_key
    change_key_file: run/ssh/change_key  # approved changes only; the guard gives bot_key the reads
    known_hosts: run/ssh/known_hosts
    maillog: $LOG
    roles: [mta, store, bmcli]
    bluemind: 4                    # Cyrus tools for deleted mail (5: bm-cli mail unexpunge)
    bm_cli: /usr/local/bin/bm-cli  # the lab's stand-in (BlueMind's own: /usr/bin/bm-cli)
    retention_days: 7              # cyr_expire -X 7 in lab/run/cyrus.conf
    connect_timeout: 5
    command_timeout: 60
    # BlueMind 4's rebuild, as the lab's admins would run it (BlueMind 5: bm-cli maintenance repair).
    regen_maps:
      - [sudo, -n, /usr/sbin/postmap, hash:/etc/postfix/lab_virtual_mailboxes]
      - [sudo, -n, /usr/sbin/postmap, hash:/etc/postfix/lab_virtual_alias]
      - [sudo, -n, /usr/sbin/postfix, reload]
  # the edge relay in front of it: a second Postfix instance on the same machine, reached the same way
  - name: edge
    address: 127.0.0.1
    port: $SSH_PORT
    user: bmsupport
    key_file: run/ssh/bot_key
    change_key_file: run/ssh/change_key  # approved changes only; the guard gives bot_key the reads
    known_hosts: run/ssh/known_hosts
    maillog: $EDGE_LOG
    postfix_config: $EDGE  # postqueue/postconf -c: this instance, not the default one
    roles: [mta]
    connect_timeout: 5
    command_timeout: 60
state:
  path: run/mailbot.db
domains:
  lab-alias.test: lab.test
EOF

# --- 8. the guard -------------------------------------------------------------------------------
# `mailbot guard` writes the program (the shapes of every command the bot may send to the hosts
# above, which share this account) and prints the bot key's authorized_keys line.
PY="$LAB/../.venv/bin/python"; [ -x "$PY" ] || PY=python3
# Two lines: the bot's everyday key may only read, its change key only change.
guard() {
    (cd "$LAB/.." && "$PY" -m bot --config lab/mailbot-lab.yaml guard --host lab --path "$GUARD" \
        --log /var/log/mailbot-guard/bmsupport.log "$@") || die "mailbot guard failed (install the bot first: make install)"
}
read_line=$(guard --mode read --write-program "$RUN/mailbot-guard")
write_line=$(guard --mode write)
write_if_changed "$GUARD" 0755 < "$RUN/mailbot-guard" && CHANGES+=(guard) || true
printf '%s\n%s\n%s\n' "$read_line" "$write_line" "$ADMIN_KEY_LINE" \
    | write_if_changed /home/bmsupport/.ssh/authorized_keys 0600 && CHANGES+=(authorized_keys) || true
chown bmsupport:bmsupport /home/bmsupport/.ssh/authorized_keys
BOT_SSH=("${SSH[@]/lab_admin_key/bot_key}")
CHANGE_SSH=("${SSH[@]/lab_admin_key/change_key}")
"${BOT_SSH[@]}" /usr/sbin/postqueue -j >/dev/null 2>&1 || die "the bot's key cannot run postqueue -j through the guard"
if "${BOT_SSH[@]}" id >/dev/null 2>&1; then die "the guard let the bot's key run id"; fi
if "${BOT_SSH[@]}" sudo -n /usr/sbin/postqueue -f >/dev/null 2>&1; then die "the guard let the read key flush"; fi
if "${CHANGE_SSH[@]}" /usr/sbin/postqueue -j >/dev/null 2>&1; then die "the guard let the change key read"; fi

T1=$(date +%s.%N)
printf 'lab up in %.1fs: sshd 127.0.0.1:%s, postfix 127.0.0.1:2525, edge relay 127.0.0.1:%s, cyrus imap :143 lmtp :2400; changes: %s; config %s\n' \
    "$(awk -v a="$T0" -v b="$T1" 'BEGIN{print b-a}')" "$SSH_PORT" "$EDGE_PORT" \
    "$(printf '%s\n' "${CHANGES[@]:-none}" | awk '!seen[$0]++' | paste -sd' ')" "$LAB/mailbot-lab.yaml"
