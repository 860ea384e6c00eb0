"""The only commands the bot ever runs on a mail host, as argument-list templates.

A template is a fixed tuple of words; placeholders are filled only with validated values
(`Address`, `QueueId`, numbers) or with paths from the operator's config, and every word
is quoted with `shlex.quote` when the line is built. No f-string ever builds a shell line
from user text. The same table will feed the host-side guard, so the two never drift.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath

from bot.mailhost.values import (
    INBOX,
    Address,
    Folder,
    Mailbox,
    MessageId,
    QueueId,
    SearchQuery,
    SpoolPath,
    Uid,
)

POSTQUEUE = "/usr/sbin/postqueue"
POSTCONF = "/usr/sbin/postconf"
REGEN_LOCK = ".mailbot-regen-maps.lock"  # in the account's home, where sshd starts commands

# The log search, run on the host in one go (PERFORMANCE.md: filtering on the host costs
# 1-9 % over its own time, copying logs costs 5-6x). Arguments: how to match (`anycase` or
# `exact`), the needle (a fixed string built from a validated value: `<address>` for a
# trace, a queue id or `message-id=<...>` for one message), the oldest time of interest
# (epoch seconds, 0 for all; older files are not read), then the configured log paths; each
# log's rotated siblings (`.1`, `.2.gz`, `-YYYYMMDD[.gz]`) are found here. Every line of every
# message naming the needle comes back; LC_ALL=C, so no line is dropped for invalid UTF-8.
# The files are searched in parallel, one job per CPU (bench/README.md has the figures):
# - a file not cached yet, in two passes: the lines holding the needle (one fixed string),
#   then every line of their queue ids, found in any file (an awk hash join). A .gz file is
#   inflated once (pigz when present), into a spool the second pass and the builder reuse.
# - a cached file: its messages are stored grouped by queue id, one NUL-terminated record per
#   message, so one `grep -z` returns whole messages; the parts of messages that span files
#   (or segments of a growing log) are kept apart (`open`) and added by queue id.
# The cache (~/.cache/mailbot/trace, 0700): one entry per file, keyed by device and inode (and
# size and mtime when compressed), checked against the file's first and last 4 kB before use,
# so a rotated file keeps its entry and a replaced one is not mistaken for it; a growing log
# gets a new segment once it grew by a quarter. Entries are built after the answer, by one
# background job at low priority, and made visible by renaming their state file. It takes at
# most a quarter of the free space and leaves 10 % (at least 2 GB) free; entries whose file is
# gone are removed. Lines without a queue id (NOQUEUE and postscreen rejects) come as they are.
# Markers starting with `#mailbot ` tell the bot each file's mtime (for the year of classic
# syslog stamps), the host's clock and offset, and what could not be read.
TRACE_SCRIPT = r"""
set -u
export LC_ALL=C
umask 077
case $1 in anycase) icase=-i ;; *) icase= ;; esac
needle=$2; since=$3; shift 3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mailbot-trace.XXXXXX") || exit 70
jobs_= writer=
trap 'for p in $jobs_; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
trap 'exit 143' HUP INT TERM
printf '#mailbot host now=%s tz=%s\n' "$(date +%s)" "$(date +%z)"
awk=awk; command -v mawk >/dev/null 2>&1 && awk=mawk
buf=; command -v stdbuf >/dev/null 2>&1 && buf='stdbuf -o1M'
low=nice; command -v ionice >/dev/null 2>&1 && low='nice ionice -c 3'
par=$(getconf _NPROCESSORS_ONLN 2>/dev/null) || par=2
[ "$par" -ge 1 ] 2>/dev/null || par=2; [ "$par" -le 8 ] || par=8
inflate() {
  case $1 in
    *.gz) if command -v pigz >/dev/null 2>&1; then pigz -p 1 -dc -- "$1"; else gzip -dc -- "$1"; fi ;;
    *.bz2) bzip2 -dc -- "$1" ;;
    *.xz) xz -dc -- "$1" ;;
    *.zst) zstd -dcq -- "$1" ;;
  esac
}
qid='function qid(line,  i, s, j, q, n) {
  i = index(line, "]: "); if (!i) return ""
  s = substr(line, i + 3, 40); j = index(s, ": "); if (j < 7) return ""
  q = substr(s, 1, j - 1); n = j - 1
  if (q !~ /[^0-9A-F]/) return n <= 24 ? q : ""
  if (n > 27 || q ~ /[^0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]/ || !match(q, /z[^z]*$/)) return ""
  return RSTART >= 11 && RSTART <= 15 && n > RSTART && n - RSTART <= 12 ? q : ""
}'
join='NR == FNR { want[$0] = 1; next }
{ i = index($0, "]: "); if (i) { s = substr($0, i + 3, 40); j = index(s, ": "); if (j > 6 && (substr(s, 1, j - 1) in want)) print } }'
group='function long(q, n) {
  if (n > 27 || q ~ /[^0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]/ || !match(q, /z[^z]*$/)) return 0
  return RSTART >= 11 && RSTART <= 15 && n > RSTART && n - RSTART <= 12
}
limit && (b += length($0) + 1) > limit { exit }
{
  i = index($0, "]: ")
  if (i) {
    s = substr($0, i + 3, 40); j = index(s, ": ")
    if (j > 6) {
      q = substr(s, 1, j - 1)
      if (q !~ /[^0-9A-F]/ ? j <= 25 : long(q, j - 1)) {
        if (q in g) g[q] = g[q] "\n" $0
        else if ((t = substr(s, j + 2, 7)) == "client=" || substr(t, 1, 4) == "uid=") g[q] = $0
        else g[q] = "\n" $0
        if (substr(s, j + 2) == "removed") {
          if (substr(g[q], 1, 1) != "\n") printf "%s%c", g[q], 0
          else printf "%s%c", substr(g[q], 2), 0 > open
          delete g[q]
        }
        next
      }
    }
  }
  printf "%s%c", $0, 0
}
END { for (q in g) printf "%s%c", substr(g[q], 1, 1) == "\n" ? substr(g[q], 2) : g[q], 0 > open }'
sum() { cksum | { read -r c s; echo "$c.$s"; }; }
headsum() { head -c 4096 -- "$1" | sum; }
endsum() { s=$(($2 > 4096 ? $2 - 4095 : 1)); tail -c +"$s" -- "$1" | head -c $(($2 - s + 1)) | sum; }
lastbyte() { tail -c +"$2" -- "$1" | head -c 1 | od -An -c | tr -d ' '; }
# An entry of the cache is valid for a file if it is the same file: same inode (and size and
# mtime for a compressed one, which never grows), same first and last 4 kB of what it covers.
# Sets $start (the bytes covered, 0 if nothing) and lists the segments in $3.
valid() {
  entry=$1 start=0; : > "$3"
  [ -f "$entry/state" ] || return 0
  covered=-1; oh=; ot=
  while read -r k v; do
    case $k in covered) covered=$v ;; head) oh=$v ;; end) ot=$v ;; seg) echo "$entry/$v" >> "$3" ;; esac
  done < "$entry/state"
  if [ "$kind" = packed ] && [ "$covered" = "$size" ] && [ "$ot" = "$(tail -c 4096 -- "$f" | sum)" ]; then
    start=$size
  elif [ "$kind" = plain ] && [ "$covered" -gt 0 ] && [ "$covered" -le "$size" ] \
      && [ "$oh" = "$(headsum "$f")" ] && [ "$ot" = "$(endsum "$f" "$covered")" ]; then
    start=$covered
  else
    : > "$3"
  fi
}
cache=
if [ -n "${HOME:-}" ] && mkdir -p "$HOME/.cache/mailbot/trace/.spool" 2>/dev/null && [ -w "$HOME/.cache/mailbot/trace" ]; then
  chmod 700 "$HOME/.cache/mailbot" 2>/dev/null
  cache=$HOME/.cache/mailbot/trace
fi
siblings() { ls -tr -- "$1" "$1".[0-9]* "$1"-[0-9]* 2>/dev/null; }
listing() { for log do siblings "$log" | xargs -r -d '\n' stat -L -c '%d-%i %s %Y %n' -- 2>/dev/null; done; }
printf '%s\n' "$@" > "$tmp/logs"
listing "$@" > "$tmp/before"
: > "$tmp/files"; : > "$tmp/keys"
n=0; seen=
for log do
  found=0
  siblings "$log" | xargs -r -d '\n' stat -L -c '%d-%i %s %Y %n' -- 2>/dev/null > "$tmp/stat"
  while read -r id size mtime f; do
    [ -f "$f" ] || continue
    found=1
    if [ ! -r "$f" ]; then printf '#mailbot unreadable %s\n' "$f"; continue; fi
    case " $seen " in *" $id "*) continue ;; esac
    seen="$seen $id"
    case $f in *.gz|*.bz2|*.xz|*.zst) kind=packed; key=$id-$size-$mtime ;; *) kind=plain; key=$id ;; esac
    echo "$key" >> "$tmp/keys"
    [ "$mtime" -lt "$since" ] && continue
    n=$((n + 1))
    printf '%s %s %s %s %s %s %s %s\n' "$n" "$mtime" "$kind" "$id" "$key" "$size" "$log" "$f" >> "$tmp/files"
  done < "$tmp/stat"
  [ "$found" = 1 ] || printf '#mailbot missing %s\n' "$log"
done
# The plan, newest file first: what is cached, what is not (searched in two passes, then
# grouped into the cache by the builder after the answer, if the space allows).
budget=
sort -rn "$tmp/files" | while read -r n mtime kind id key size log f; do
  start=0; : > "$tmp/segs.$n"; spool=-; build=-
  if [ -n "$cache" ]; then
    valid "$cache/$key" "$f" "$tmp/segs.$n"
    if [ "$start" = 0 ] && [ -f "$cache/$key/state" ]; then rm -rf -- "${cache:?}/$key"; fi  # another file now
    [ -f "$cache/$key/state" ] && touch -c "$cache/$key/state"
    need=$(( (size - start) / 1024 )); [ "$kind" = packed ] && need=$((need * 24))
    if [ -z "$budget" ] && [ "$need" -ge 1024 ]; then  # at most a quarter of the free space, 10 % left free
      set -- $(df -Pk -- "$cache" | awk 'NR == 2 { print $4, int($2 / 10) }') $(du -sk -- "$cache")
      avail=${1:-0} floor=${2:-0} used=${3:-0}; [ "$floor" -lt 2097152 ] && floor=2097152
      budget=$(( (avail + used) / 4 - used )); [ $((avail - floor)) -lt "$budget" ] && budget=$((avail - floor))
    fi
    if [ "$start" -lt "$size" ] && [ "$need" -ge 1024 ] && [ "$need" -le "$budget" ] && [ $((4 * (size - start))) -ge "$start" ]; then
      build=1; budget=$((budget - need))
      [ "$kind" = packed ] && spool=$cache/.spool/$key.$$
    fi
  fi
  printf '%s %s %s %s %s %s %s %s %s %s %s\n' "$n" "$kind" "$start" "$size" "$id" "$key" "$mtime" "$spool" "$build" "$log" "$f" > "$tmp/plan.$n"
done
run() {  # run JOB N...: one job per file, $par at a time
  what=$1; shift; i=0; mine=
  for n do
    i=$((i + 1))
    [ "$i" -gt "$par" ] && eval "wait \$pid_$((i - par))"
    $what "$n" &
    eval "pid_$i=$!"; mine="$mine $!"; jobs_="$jobs_ $!"
  done
  for p in $mine; do wait "$p"; done
  jobs_=$writer
}
source_of() {  # the part of the file not cached, as text
  if [ "$kind" = packed ]; then if [ "$spool" != - ] && [ -s "$spool" ]; then cat -- "$spool"; else inflate "$f"; fi
  elif [ "$start" = 0 ]; then cat -- "$f"
  else tail -c +$((start + 1)) -- "$f"; fi
}
# Pass 1: the needle in the cached segments (whole messages) and in the rest (lines).
first() {
  read -r n kind start size id key mtime spool build log f < "$tmp/plan.$1"
  : > "$tmp/hits.$n"; : > "$tmp/ohits.$n"; : > "$tmp/lines.$n"
  while read -r s; do
    grep -a -z $icase -F -e "$needle" -- "$s.closed" >> "$tmp/hits.$n"; [ $? -le 1 ] || echo bad > "$tmp/bad.$n"
    grep -a -z $icase -F -e "$needle" -- "$s.open" >> "$tmp/ohits.$n"; [ $? -le 1 ] || echo bad > "$tmp/bad.$n"
  done < "$tmp/segs.$n"
  [ "$start" -lt "$size" ] || return 0
  if [ "$spool" != - ]; then
    { inflate "$f" || echo bad > "$tmp/bad.$n"; } > "$spool"
    grep -a $icase -F -e "$needle" -- "$spool" > "$tmp/lines.$n"
  elif [ "$kind" = plain ] && [ "$start" = 0 ]; then
    grep -a $icase -F -e "$needle" -- "$f" > "$tmp/lines.$n"
  else
    source_of | grep -a $icase -F -e "$needle" > "$tmp/lines.$n"
  fi
  [ $? -le 1 ] || echo bad > "$tmp/bad.$n"
}
# Pass 2: every line of the queue ids found anywhere, in the part not cached; and the parts
# of messages that span files or segments (kept apart in the cache, as `open`).
second() {
  read -r n kind start size id key mtime spool build log f < "$tmp/plan.$1"
  {
    [ -s "$tmp/lines.$n" ] && $awk "$qid"'qid($0) == ""' "$tmp/lines.$n"
    if [ "$start" -lt "$size" ] && [ -s "$tmp/ids" ]; then
      if [ "$kind" = plain ] && [ "$start" = 0 ]; then $awk "$join" "$tmp/ids" "$f"
      elif [ "$spool" != - ] && [ -s "$spool" ]; then $awk "$join" "$tmp/ids" "$spool"
      else source_of | $awk "$join" "$tmp/ids" -; fi
    fi
    if [ -s "$tmp/ids" ] && [ -s "$tmp/segs.$n" ]; then
      while read -r s; do cat -- "$s.open"; done < "$tmp/segs.$n" | tr '\0' '\n' |
        $awk "$qid"' NR == FNR { want[$0] = 1; next } (qid($0) in want)' "$tmp/ids" -
    fi
  } > "$tmp/more.$n"
  : > "$tmp/done.$n"
  echo "$n" >&4
}
show() { printf '#mailbot file mtime=%s path=%s\n' "$1" "$2"; }
run first $(cut -d' ' -f1 "$tmp/files")
while read -r i mtime kind id key size log f; do
  if [ -s "$tmp/hits.$i" ]; then show "$mtime" "$f"; tr '\0' '\n' < "$tmp/hits.$i"; fi
done < "$tmp/files"
{ cat "$tmp"/hits.* "$tmp"/ohits.* 2>/dev/null | tr '\0' '\n'; cat "$tmp"/lines.* 2>/dev/null; } |
  $awk "$qid"'{ q = qid($0); if (q != "") print q }' | sort -u > "$tmp/ids"
# Each file's lines go out as soon as its job is done (in the files' order), so the bot reads
# them while the other files are searched; a bot slow to read holds up only this writer. A job
# rings a bell when it ends (a line on a FIFO held open here, so a ring never blocks): the
# writer sleeps on it, without polling.
mkfifo "$tmp/bell" && exec 4<> "$tmp/bell" || exit 70
emit() {
  for i in $(cut -d' ' -f1 "$tmp/files"); do
    while [ ! -e "$tmp/done.$i" ]; do read -r _ <&4; done
    read -r n kind start size id key mtime spool build log f < "$tmp/plan.$i"
    show "$mtime" "$f"
    [ -e "$tmp/bad.$i" ] && printf '#mailbot warning %s could not be read whole.\n' "$f"
    cat -- "$tmp/more.$i"
  done
}
emit & writer=$!; jobs_=$writer
run second $(cut -d' ' -f1 "$tmp/files")
wait "$writer"; writer= jobs_=
exec 4<&-
listing "$@" > "$tmp/after"
cmp -s "$tmp/before" "$tmp/after" ||
  printf '#mailbot warning The logs were rotated during the search: run it again if lines are missing or doubled.\n'
unchanged() {  # the file is still the one read (it may have grown, if plain)
  now=$(stat -L -c '%d-%i %s %Y' -- "$f" 2>/dev/null) || return 1
  if [ "$kind" = packed ]; then
    [ "$now" = "$id $size $mtime" ] && [ "$tsum" = "$(tail -c 4096 -- "$f" | sum)" ]
  else
    rest=${now#* }
    [ "${now%% *}" = "$id" ] && [ "${rest%% *}" -ge "$size" ] && [ "$hsum" = "$(headsum "$f")" ] && [ "$tsum" = "$(endsum "$f" "$size")" ]
  fi
}
# The builder: groups each file not cached yet by queue id (whole messages as NUL-separated
# records; the parts of messages that span files apart), at low priority, after the answer.
# One at a time (a lock); written beside, then made visible by renaming the entry's state.
build() {
  exec </dev/null >/dev/null 2>&1
  trap '' HUP
  me=$(sh -c 'echo $PPID')
  if ! mkdir "$cache/.lock" 2>/dev/null; then
    holder=$(cat "$cache/.lock/pid" 2>/dev/null)
    if [ -n "$holder" ] && kill -0 "$holder" 2>/dev/null || ! { rm -rf "$cache/.lock"; mkdir "$cache/.lock" 2>/dev/null; }; then
      while read -r n kind start size id key mtime spool build log f; do [ "$spool" = - ] || rm -f -- "$spool"; done < "$1"
      rm -f -- "$1"; return
    fi
  fi
  echo "$me" > "$cache/.lock/pid"
  while read -r n kind start size id key mtime spool build log f; do
    entry=$cache/$key
    mkdir -p "$entry" && valid "$entry" "$f" "$1.segs" || continue
    if [ "$kind" = plain ]; then
      meta=$(stat -L -c '%d-%i %s' -- "$f") || continue
      size=${meta#* }
      [ "${meta%% *}" = "$id" ] && [ "$size" -gt "$start" ] && [ $((4 * (size - start))) -ge "$start" ] \
        && [ "$(lastbyte "$f" "$size")" = '\n' ] || continue
      hsum=$(headsum "$f"); tsum=$(endsum "$f" "$size")
    else
      [ "$start" = "$size" ] && { [ "$spool" = - ] || rm -f -- "$spool"; continue; }
      hsum=-; tsum=$(tail -c 4096 -- "$f" | sum)
    fi
    seg=seg.$start-$size.$me
    : > "$entry/$seg.open"
    if [ "$kind" = packed ]; then
      if [ "$spool" != - ] && [ -s "$spool" ]; then cat -- "$spool"; else inflate "$f" || echo bad > "$entry/$seg.bad"; fi |
        $low $buf $awk -v open="$entry/$seg.open" "$group"
    elif [ "$start" = 0 ]; then
      $low $buf $awk -v open="$entry/$seg.open" -v limit="$size" "$group" "$f"
    else
      tail -c +$((start + 1)) -- "$f" | $low $buf $awk -v open="$entry/$seg.open" -v limit=$((size - start)) "$group"
    fi > "$entry/$seg.closed" || echo bad > "$entry/$seg.bad"
    [ "$spool" = - ] || rm -f -- "$spool"
    if [ ! -e "$entry/$seg.bad" ] && unchanged; then
      {
        echo "log $log"; echo "covered $size"; echo "head $hsum"; echo "end $tsum"
        while read -r s; do echo "seg ${s##*/}"; done < "$1.segs"; echo "seg $seg"
      } > "$entry/state.$me" && mv -f "$entry/state.$me" "$entry/state"
    else
      rm -f -- "$entry/$seg".*
    fi
  done < "$1"
  rm -f -- "$1" "$1.segs"
  rm -rf "$cache/.lock"
}
if [ -n "$cache" ]; then
  cat "$tmp"/plan.* 2>/dev/null | awk '$9 == 1' | sort -n > "$cache/.build.$$"
  if [ -s "$cache/.build.$$" ]; then build "$cache/.build.$$" & else rm -f -- "$cache/.build.$$"; fi
  # The cache keeps only files that still exist: an entry of one of these logs whose file is
  # gone goes now, another log's after a week unused; leftovers of a lost race after an hour.
  for e in "$cache"/*/; do
    [ -d "$e" ] || continue
    e=${e%/}
    if grep -qxF -- "${e##*/}" "$tmp/keys"; then
      for s in "$e"/seg.*; do
        [ -e "$s" ] || continue
        b=${s%.*}; grep -qxF "seg ${b##*/}" "$e/state" 2>/dev/null || [ -z "$(find "$s" -mmin +60)" ] || rm -f -- "$s"
      done
    elif grep -qxF -- "$(sed -n 's/^log //p' "$e/state" 2>/dev/null)" "$tmp/logs" || [ -n "$(find "$e" -maxdepth 0 -mtime +7)" ]; then
      rm -rf -- "$e"
    fi
  done
  find "$cache/.spool" "$cache" -maxdepth 1 -type f -mmin +60 -exec rm -f -- {} + 2>/dev/null
fi
exit 0
""".strip()


@dataclass(frozen=True)
class RemoteCommand:
    """A command ready to run: the template it came from and its exact words."""

    template: str
    argv: tuple[str, ...]

    def shell_line(self) -> str:
        return " ".join(shlex.quote(word) for word in self.argv)

    def __str__(self) -> str:
        """What an approver or a log reads: the script body elided, the arguments shown."""
        words = [("<trace script>" if word == TRACE_SCRIPT else shlex.quote(word)) for word in self.argv]
        return " ".join(words)


def _log_paths(maillogs: tuple[str, ...]) -> tuple[str, ...]:
    for path in maillogs:
        if not PurePosixPath(path).is_absolute() or "\n" in path or "\0" in path:
            raise ValueError(f"maillog path {path!r} is not an absolute path")
    return maillogs


def _search_logs(mode: str, needle: str, since_epoch: int, maillogs: tuple[str, ...]) -> RemoteCommand:
    if since_epoch < 0:
        raise ValueError("since_epoch must be >= 0")
    return RemoteCommand(
        "search_logs",
        ("/bin/sh", "-c", TRACE_SCRIPT, "mailbot-trace", mode, needle, str(since_epoch), *_log_paths(maillogs)),
    )


def trace_logs(address: Address, since_epoch: int, maillogs: tuple[str, ...]) -> RemoteCommand:
    """Every message naming `<address>` (as from=, to= or orig_to=), any case."""
    return _search_logs("anycase", f"<{address.value}>", since_epoch, maillogs)


def message_logs(message: QueueId | MessageId, maillogs: tuple[str, ...]) -> RemoteCommand:
    """One message by queue id (its lines, and the hop or notice that names it) or by Message-ID."""
    needle = f"message-id=<{message.value}>" if isinstance(message, MessageId) else message.value
    return _search_logs("exact", needle, 0, maillogs)


# The Postfix tools act on the default instance, or with `-c DIR` on the instance whose config
# directory the host entry names (`postfix_config`, e.g. an edge relay's /etc/postfix-edge, made
# by postmulti). postqueue accepts it from an unprivileged user only when the default instance
# lists it in multi_instance_directories or alternate_config_directories.
def _instance(config_dir: str | None) -> tuple[str, ...]:
    if config_dir is None:
        return ()
    if not PurePosixPath(config_dir).is_absolute() or any(c.isspace() or c == "\0" for c in config_dir):
        raise ValueError(f"Postfix config directory {config_dir!r} is not an absolute path")
    return ("-c", config_dir)


def queue_json(config_dir: str | None = None) -> RemoteCommand:
    return RemoteCommand("queue_json", (POSTQUEUE, *_instance(config_dir), "-j"))


def queue_text(config_dir: str | None = None) -> RemoteCommand:
    return RemoteCommand("queue_text", (POSTQUEUE, *_instance(config_dir), "-p"))


def flush_queue(config_dir: str | None = None) -> RemoteCommand:
    return RemoteCommand("flush_queue", ("sudo", "-n", POSTQUEUE, *_instance(config_dir), "-f"))


def flush_message(queue_id: QueueId, config_dir: str | None = None) -> RemoteCommand:
    return RemoteCommand("flush_message", ("sudo", "-n", POSTQUEUE, *_instance(config_dir), "-i", queue_id.value))


def postfix_version(config_dir: str | None = None) -> RemoteCommand:
    return RemoteCommand("postfix_version", (POSTCONF, *_instance(config_dir), "-h", "mail_version"))


def queue_lifetime(config_dir: str | None = None) -> RemoteCommand:
    """How long Postfix keeps a deferred message before returning it (`maximal_queue_lifetime`)."""
    return RemoteCommand("queue_lifetime", (POSTCONF, *_instance(config_dir), "-h", "maximal_queue_lifetime"))


def regen_maps(steps: tuple[tuple[str, ...], ...]) -> RemoteCommand:
    """The host's map rebuild (operator-configured words, each quoted), one at a time per host:
    `flock -n` makes a second rebuild started meanwhile, by any bot or admin, fail at once."""
    if not steps:
        raise ValueError("no map rebuild command configured")
    chain = " && ".join(" ".join(shlex.quote(word) for word in step) for step in steps)
    return RemoteCommand("regen_maps", ("flock", "-n", "-E", "75", REGEN_LOCK, "/bin/sh", "-c", chain))


# `check` probes: what each configured log and tool looks like, read-only.
PROBE_SCRIPT = r"""
export LC_ALL=C
for log do
  for f in $(ls -tr -- "$log" "$log".[0-9]* "$log"-[0-9]* 2>/dev/null); do
    if [ -r "$f" ]; then printf 'log readable %s %s\n' "$(stat -c %s -- "$f")" "$f"; else printf 'log unreadable 0 %s\n' "$f"; fi
  done
  [ -e "$log" ] || printf 'log missing 0 %s\n' "$log"
done
for tool in /usr/sbin/postqueue /usr/sbin/postconf /usr/sbin/postcat /usr/lib/cyrus/bin/unexpunge /usr/lib/cyrus/bin/mbpath bm-cli grep awk gzip pigz; do
  if command -v "$tool" >/dev/null 2>&1; then printf 'tool present %s\n' "$tool"; else printf 'tool absent %s\n' "$tool"; fi
done
""".strip()


def probe_host(maillogs: tuple[str, ...]) -> RemoteCommand:
    return RemoteCommand("probe_host", ("/bin/sh", "-c", PROBE_SCRIPT, "mailbot-probe", *_log_paths(maillogs)))


# --- deleted mail (issue 5): Cyrus tools (BlueMind 4) and bm-cli ----------------------------
# Cyrus tools run as the cyrus user (else "can't read mailboxes file", rc 75), by absolute path,
# through `sudo -n`, with a mailbox name built from a validated `Mailbox` and `Folder`.
# bm-cli is BlueMind's Java CLI; it needs root (it reads the admin token), so it runs through
# `sudo -n` too, at the path the host entry gives (`bm_cli`, default /usr/bin/bm-cli).

CYRUS_BIN = "/usr/lib/cyrus/bin"
UNEXPUNGE = f"{CYRUS_BIN}/unexpunge"
MBPATH = f"{CYRUS_BIN}/mbpath"
MBEXAMINE = f"{CYRUS_BIN}/mbexamine"
HEAD = "/usr/bin/head"
MAIL_HEAD_BYTES = 65536  # the sudo rule allows exactly this count
AS_CYRUS = ("sudo", "-n", "-u", "cyrus")
BM5_ALL_DAYS = 36500  # `--days N` restores what was deleted in the last N days: all of it

# The host's clock and zone before a listing: Cyrus prints local times without a zone.
CLOCK_SCRIPT = r"""printf '#mailbot host now=%s tz=%s\n' "$(date +%s)" "$(date +%z)"; exec "$@" """.strip()

# The present mails of some folders, reduced on the host to what tells a copy from another
# (UID, date, size, GUID, flags, cached From and Subject): mbexamine dumps much more per mail.
INDEX_SCRIPT = r"""
for mailbox do
  sudo -n -u cyrus /usr/lib/cyrus/bin/mbexamine "$mailbox" 2>/dev/null
done | awk '/^Examining / || /> UID:/ || /GUID:/ || /SYSTEMFLAGS:/ || /^ From>/ { print; next }
  /^ Subjct>/ { print; literal = ($0 ~ /}\r?$/); next }
  literal { print; literal = 0 }'
exit 0
""".strip()

# Several BlueMind 5 restores by id: bm-cli takes one --id per run.
BM5_RESTORE_SCRIPT = r"""
bmcli=$1 email=$2 folder=$3; shift 3
for id do
  sudo -n "$bmcli" mail unexpunge "$email" --folder "$folder" --id "$id" || exit
done
""".strip()


def _bm_cli(path: str) -> str:
    if not PurePosixPath(path).is_absolute() or any(c.isspace() for c in path):
        raise ValueError(f"bm-cli path {path!r} is not an absolute path")
    return path


def mailbox_path(mailbox: Mailbox, folder: Folder = INBOX) -> RemoteCommand:
    return RemoteCommand("mailbox_path", (*AS_CYRUS, MBPATH, mailbox.folder_name(folder)))


def list_expunged(mailbox: Mailbox, folder: Folder = INBOX) -> RemoteCommand:
    return RemoteCommand(
        "list_expunged",
        ("/bin/sh", "-c", CLOCK_SCRIPT, "mailbot-clock", *AS_CYRUS, UNEXPUNGE, "-l", mailbox.folder_name(folder)),
    )


def restore_expunged(mailbox: Mailbox, folder: Folder, uids: tuple[Uid, ...]) -> RemoteCommand:
    if not uids:
        raise ValueError("restore_expunged needs at least one UID")
    words = tuple(str(uid.value) for uid in uids)
    return RemoteCommand(
        "restore_expunged", (*AS_CYRUS, UNEXPUNGE, "-u", "-d", "-v", mailbox.folder_name(folder), *words)
    )


def restore_all_expunged(mailbox: Mailbox, folder: Folder) -> RemoteCommand:
    return RemoteCommand("restore_all_expunged", (*AS_CYRUS, UNEXPUNGE, "-a", "-d", "-v", mailbox.folder_name(folder)))


def index_records(mailbox: Mailbox, others: bool = True) -> RemoteCommand:
    """The user's folders (and with `others`, the domain's top-level shared mailboxes)."""
    names = [mailbox.cyrus_name, f"user/{mailbox.login}/*@{mailbox.domain}"]
    if others:
        names.append(f"%@{mailbox.domain}")
    return RemoteCommand("index_records", ("/bin/sh", "-c", INDEX_SCRIPT, "mailbot-index", *names))


def mail_head(path: SpoolPath) -> RemoteCommand:
    return RemoteCommand("mail_head", (*AS_CYRUS, HEAD, "-c", str(MAIL_HEAD_BYTES), "--", path.value))


def _bm(bm_cli: str, *words: str) -> tuple[str, ...]:
    """bm-cli as root (it reads the admin token), at the host's path."""
    return ("sudo", "-n", _bm_cli(bm_cli), *words)


def _bm_unexpunge(bm_cli: str, address: Address, folder: Folder) -> tuple[str, ...]:
    return _bm(bm_cli, "mail", "unexpunge", address.value, "--folder", folder.value)


def bmcli_version(bm_cli: str) -> RemoteCommand:
    return RemoteCommand("bmcli_version", _bm(bm_cli, "--version"))


def bmcli_user(bm_cli: str, address: Address) -> RemoteCommand:
    return RemoteCommand(
        "bmcli_user", _bm(bm_cli, "user", "get", address.value, "--display", "login email", "--no-progress")
    )


def bmcli_history_imap(bm_cli: str, address: Address, uid: Uid, folder: Folder) -> RemoteCommand:
    words = ("--email", address.value, "--imapUid", str(uid.value), "--folderPath", folder.value)
    return RemoteCommand("bmcli_history_imap", _bm(bm_cli, "mail", "history-imap", *words))


def bmcli_history_query(bm_cli: str, address: Address, query: SearchQuery) -> RemoteCommand:
    words = ("--email", address.value, "--query", query.value)
    return RemoteCommand("bmcli_history_query", _bm(bm_cli, "mail", "history-query", *words))


def bmcli_deleted(bm_cli: str, address: Address, folder: Folder) -> RemoteCommand:
    clock = ("/bin/sh", "-c", CLOCK_SCRIPT, "mailbot-clock")
    return RemoteCommand("bmcli_deleted", (*clock, *_bm_unexpunge(bm_cli, address, folder), "--dry"))


def bmcli_restore(bm_cli: str, address: Address, folder: Folder, uids: tuple[Uid, ...]) -> RemoteCommand:
    if not uids:
        raise ValueError("bmcli_restore needs at least one id")
    if len(uids) == 1:
        return RemoteCommand("bmcli_restore", (*_bm_unexpunge(bm_cli, address, folder), "--id", str(uids[0].value)))
    words = tuple(str(uid.value) for uid in uids)
    return RemoteCommand(
        "bmcli_restore",
        ("/bin/sh", "-c", BM5_RESTORE_SCRIPT, "mailbot-restore", _bm_cli(bm_cli), address.value, folder.value, *words),
    )


def bmcli_restore_all(bm_cli: str, address: Address, folder: Folder) -> RemoteCommand:
    return RemoteCommand("bmcli_restore_all", (*_bm_unexpunge(bm_cli, address, folder), "--days", str(BM5_ALL_DAYS)))


def bluemind_probe(bm_cli: str) -> RemoteCommand:
    """Which BlueMind this is: Cyrus's unexpunge (4) or only bm-cli (5)."""
    script = 'for tool do if [ -x "$tool" ]; then echo "present $tool"; else echo "absent $tool"; fi; done'
    return RemoteCommand("bluemind_probe", ("/bin/sh", "-c", script, "mailbot-probe", UNEXPUNGE, _bm_cli(bm_cli)))
