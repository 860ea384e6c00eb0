# The log search, sent as one argument: /bin/sh -c SCRIPT mailbot-trace MODE NEEDLE SINCE LOG...
# (bot/mailhost/tools/postfix.py builds the line; the guard allows this text literally).
# shellcheck shell=sh
# Awk programs sit in single quotes on purpose (SC2016); the plan's fields are read again from
# its files by each job, not kept from the pipeline's subshell (SC2030, SC2031); the jobs are
# called through `run` (SC2317); `a= b=` sets both empty (SC1007).
# shellcheck disable=SC1007,SC2016,SC2030,SC2031,SC2317
#
# Run on the host in one go (PERFORMANCE.md: filtering on the host costs 1-9 % over its own
# time, copying logs costs 5-6x). Arguments: how to match (`anycase` or
# `exact`), the needle (a fixed string built from a validated value: `<address>` for a
# trace, a queue id or `message-id=<...>` for one message), the oldest time of interest
# (epoch seconds, 0 for all; older files are not read), then the configured log paths; each
# log's rotated siblings (`.1`, `.2.gz`, `-YYYYMMDD[.gz]`) are found here. Every line of every
# message naming the needle comes back; LC_ALL=C, so no line is dropped for invalid UTF-8.
# A small host (under 2 MB of text, 0.5 MB more for each file after the first) is read by one
# awk, in one pass. Otherwise the files are searched in parallel, one job per CPU (bench/README.md
# has the figures):
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
set -u
export LC_ALL=C
umask 077
case $1 in anycase) icase=-i ;; *) icase= ;; esac
needle=$2; since=$3; shift 3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mailbot-trace.XXXXXX") || exit 70
jobs_= writer= handed=
trap 'for p in $jobs_; do kill "$p" 2>/dev/null; done; [ -n "$handed" ] || rm -rf "$tmp"' EXIT
trap 'exit 143' HUP INT TERM
# Every program started costs about 1 ms on the host, and a trace of the lab's few small files
# started 90: each one spared below is a measured share of a quick answer (issue 24).
clock=$(date '+%s %z')
printf '#mailbot host now=%s tz=%s\n' "${clock% *}" "${clock#* }"
# shellcheck disable=SC2209  # the command's name, run later
awk=awk; command -v mawk >/dev/null 2>&1 && awk=mawk
buf=; command -v stdbuf >/dev/null 2>&1 && buf='stdbuf -o1M'
# shellcheck disable=SC2209  # the command's name, run later
low=nice; command -v ionice >/dev/null 2>&1 && low='nice ionice -c 3'
inflate() {
  case $1 in
    *.gz) if command -v pigz >/dev/null 2>&1; then pigz -p 1 -dc -- "$1"; else gzip -dc -- "$1"; fi ;;
    *.bz2) bzip2 -dc -- "$1" ;;
    *.xz) xz -dc -- "$1" ;;
    *.zst) zstd -dcq -- "$1" ;;
  esac
}
# A queue id follows the daemon's `]: `, or on Solaris the `[ID 197553 mail.info] ` after it;
# MailScanner's `Requeue: QUEUEID.XXXXX to NEXT` is a line of the held QUEUEID (the file it ends).
qid='function qid(line,  i, s, j, q, n, k) {
  i = index(line, "]: "); if (!i) return ""
  s = substr(line, i + 3, 40); if (substr(s, 1, 4) == "[ID " && (k = index(s, "] "))) s = substr(line, i + k + 4, 40)
  if (substr(s, 1, 9) == "Requeue: " && (k = index(s, "."))) s = substr(s, 10, k - 10) ": "
  j = index(s, ": "); if (j < @QID_SHORTEST_J@) return ""
  q = substr(s, 1, j - 1); n = j - 1
  if (q !~ /[^@QID_SHORT_CHARS@]/) return n <= @QID_SHORT_LONGEST@ ? q : ""
  if (n > @QID_LONG_LONGEST@ || q ~ /[^@QID_LONG_CHARS@]/ || !match(q, /@QID_SEPARATOR@[^@QID_SEPARATOR@]*$/)) return ""
  return RSTART >= @QID_SEPARATOR_FIRST@ && RSTART <= @QID_SEPARATOR_LAST@ && n > RSTART && n - RSTART <= @QID_INODE_LONGEST@ ? q : ""
}'
# The hash join looks past a Solaris tag only when the needle's lines had one (`-v tagged=1`):
# looking on every line made it 11 % slower (0.42 s of CPU against 0.38 for a 266 MB file, medians of 7).
# MailScanner's `Requeue:` lines are looked for only when the needle's lines had a HOLD or one of
# them (`requeue`, spliced in): even behind a variable, the test made the join 3-6 % slower.
join_head='NR == FNR { want[$0] = 1; next }
{ i = index($0, "]: "); if (i) { s = substr($0, i + 3, 40); j = index(s, ": ")
  if (j > @QID_SHORTEST@ && (substr(s, 1, j - 1) in want)) print
  '
requeue='else if (j == 8 && substr(s, 1, 9) == "Requeue: " && (k = index(s, ".")) && (substr(s, 10, k - 10) in want)) print
  '
join_tail='else if (tagged && substr(s, 1, 4) == "[ID " && (k = index(s, "] "))) {
    s = substr($0, i + k + 4, 40); j = index(s, ": "); if (j > @QID_SHORTEST@ && (substr(s, 1, j - 1) in want)) print } } }'
# The small host's search in one pass (after `qid`): each file's lines that name the needle
# without a queue id, then its lines of every queue id named anywhere, as the two passes give them.
whole='BEGIN { fold = ENVIRON["fold"] != ""; needle = ENVIRON["needle"]; if (fold) needle = tolower(needle)
  mark = "\001" ENVIRON["tmp"] " "; m = length(mark) }
index($0, mark) == 1 {
  r = substr($0, m + 1); s = index(r, " "); n = substr(r, 1, s - 1); r = substr(r, s + 1); s = index(r, " ")
  mtime[n] = substr(r, 1, s - 1); path[n] = substr(r, s + 1); files[++nf] = n; lo[n] = k + 1; cur = n; fresh = 1
  next
}
cur == "" { next }
{
  if (fresh) { first[cur] = substr($0, 1, 300); fresh = 0 }
  q = qid($0); hit = fold ? index(tolower($0), needle) : index($0, needle)
  if (q != "") { line[++k] = $0; of[k] = q; if (hit) want[q] = 1 }
  else if (hit) { line[++k] = $0; of[k] = "" }
  hi[cur] = k
}
END {
  for (i = 1; i <= nf; i++) { n = files[i]; printf "#mailbot first mtime=%s path=%s\n#mailbot line %s\n", mtime[n], path[n], first[n] }
  for (i = 1; i <= nf; i++) {
    n = files[i]; printf "#mailbot file mtime=%s path=%s\n", mtime[n], path[n]
    if ((getline x < (ENVIRON["tmp"] "/bad." n)) > 0) printf "#mailbot warning partial %s\n", path[n]
    for (j = lo[n]; j <= hi[n]; j++) if (of[j] == "") print line[j]
    for (j = lo[n]; j <= hi[n]; j++) if (of[j] != "" && (of[j] in want)) print line[j]
  }
}'
group='function long(q, n) {
  if (n > @QID_LONG_LONGEST@ || q ~ /[^@QID_LONG_CHARS@]/ || !match(q, /@QID_SEPARATOR@[^@QID_SEPARATOR@]*$/)) return 0
  return RSTART >= @QID_SEPARATOR_FIRST@ && RSTART <= @QID_SEPARATOR_LAST@ && n > RSTART && n - RSTART <= @QID_INODE_LONGEST@
}
limit && (b += length($0) + 1) > limit { exit }
NR <= 100 && !tagged { tagged = index($0, "]: [ID ") }  # a Solaris log: (nearly) every line has the tag
{
  i = index($0, "]: ")
  if (i) {
    s = substr($0, i + 3, 40); if (tagged && substr(s, 1, 4) == "[ID " && (k = index(s, "] "))) s = substr($0, i + k + 4, 40)
    j = index(s, ": ")
    if (j > @QID_SHORTEST@) {
      q = substr(s, 1, j - 1)
      if (q !~ /[^@QID_SHORT_CHARS@]/ ? j <= @QID_SHORT_LONGEST_J@ : long(q, j - 1)) {
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
    if (j == 8 && substr(s, 1, 9) == "Requeue: " && (k = index(s, "."))) {  # MailScanner ends the held file
      q = substr(s, 10, k - 10)
      if (!(q in g)) { printf "%s%c", $0, 0 > open; next }
      g[q] = g[q] "\n" $0
      if (substr(g[q], 1, 1) != "\n") printf "%s%c", g[q], 0
      else printf "%s%c", substr(g[q], 2), 0 > open
      delete g[q]
      next
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
if [ -n "${HOME:-}" ] && { [ -d "$HOME/.cache/mailbot/trace/.spool" ] || mkdir -p "$HOME/.cache/mailbot/trace/.spool" 2>/dev/null; } \
    && [ -w "$HOME/.cache/mailbot/trace" ]; then
  chmod 700 "$HOME/.cache/mailbot" 2>/dev/null
  cache=$HOME/.cache/mailbot/trace
fi
siblings() { ls -tr -- "$1" "$1".[0-9]* "$1"-[0-9]* 2>/dev/null; }
stats() { siblings "$1" | xargs -r -d '\n' stat -L -c '%d-%i %s %Y %n' -- 2>/dev/null; }
listing() { for log do stats "$log"; done; }
printf '%s\n' "$@" > "$tmp/logs"
: > "$tmp/before"; : > "$tmp/files"; : > "$tmp/keys"
n=0; seen=
for log do
  found=0
  stats "$log" > "$tmp/stat"
  while IFS= read -r line; do printf '%s\n' "$line"; done < "$tmp/stat" >> "$tmp/before"  # the listing, as read
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
# A small host (under $small bytes of text to read, a compressed file counted at 12 times its size:
# mail logs inflate 8 to 11 times, the lab's, pixelpark's and the benchmark's): one awk reads every
# file once and answers, and the cache is neither read nor built. The two passes below start some
# 60 programs for the lab's seven small files; this way the script takes 38 ms instead of 85
# (issue 24). The answer is the two passes' byte for byte (tests/mailhost/test_trace_script.py runs
# both). Each file comes after a marker line holding this run's own temporary folder, a name no log
# line can know in advance. Measured on 2 cores (medians of 9; the one pass costs about 13 ms and
# 13 ms per MB, the two passes some 4 ms more per file and run files side by side): one file of 2 MB,
# 40 against 42 ms; two of 4.2 MB, 60 against 44; the lab's six files of 2.5 MB, 49 against 65,
# and of 4.7 MB, 72 against 87. So the limit is 2 MB, and 0.5 MB more for each file after the first.
# (MAILBOT_TRACE_SMALL sets the limit itself for the tests that run the script here; over SSH, the
# guard's forced command gets no variable of the bot's.)
text=0 files=0
while read -r i mtime kind id key size log f; do
  if [ "$kind" = packed ]; then text=$((text + 12 * size)); else text=$((text + size)); fi
  files=$((files + 1))
done < "$tmp/files"
small=${MAILBOT_TRACE_SMALL:-}
[ "$small" -ge 0 ] 2>/dev/null || small=$((1572864 + 524288 * files))
if [ "$text" -le "$small" ]; then
  while read -r i mtime kind id key size log f; do
    printf '\n\001%s %s %s %s\n' "$tmp" "$i" "$mtime" "$f"
    if [ "$kind" = packed ]; then inflate "$f"; else cat -- "$f"; fi || echo bad > "$tmp/bad.$i"
  done < "$tmp/files" | fold=$icase needle=$needle tmp=$tmp $awk "$qid$whole"
else
  par=$(getconf _NPROCESSORS_ONLN 2>/dev/null) || par=2
  [ "$par" -ge 1 ] 2>/dev/null || par=2; [ "$par" -le 8 ] || par=8
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
        # shellcheck disable=SC2046  # two numbers, then one: split on purpose
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
  # The whole messages of file $n's cached segments that hold the needle, on stdout; those of the
  # parts kept apart (messages that span files or segments) go to its ohits.
  # shellcheck disable=SC2086  # $icase: -i or nothing, split on purpose
  cached_hits() {
    while read -r s; do
      grep -a -z $icase -F -e "$needle" -- "$s.closed"; [ $? -le 1 ] || echo bad > "$tmp/bad.$n"
      grep -a -z $icase -F -e "$needle" -- "$s.open" >> "$tmp/ohits.$n"; [ $? -le 1 ] || echo bad > "$tmp/bad.$n"
    done < "$tmp/segs.$n"
  }
  # Is file $1 the one whose cached messages its own first pass sends (the first file, if cached)?
  streamed() { [ "$1" = "$lead" ] && [ -s "$tmp/segs.$1" ]; }
  # Pass 1: the needle in the cached segments (whole messages) and in the rest (lines).
  # shellcheck disable=SC2086  # $icase: -i or nothing, split on purpose
  first() {
    read -r n kind start size id key mtime spool build log f < "$tmp/plan.$1"
    : > "$tmp/hits.$n"; : > "$tmp/ohits.$n"; : > "$tmp/lines.$n"
    if streamed "$n"; then
      # The first file's cached messages go straight out as grep finds them, after the file's
      # marker when there is one (nothing else is written meanwhile: the writer of the others
      # waits for this part): a busy address's first lines at 0.05 s, not once its file is read
      cached_hits | tee -- "$tmp/hits.$n" | tr '\0' '\n' |
        marker=$(show "$mtime" "$f") $awk 'NR == 1 { print ENVIRON["marker"] } { print }'
    else
      cached_hits > "$tmp/hits.$n"
    fi
    : > "$tmp/hit.$n"; echo "$n" >&4  # its cached messages can go out
    [ "$start" -lt "$size" ] || return 0
    if [ "$spool" != - ]; then
      { inflate "$f" || echo bad > "$tmp/bad.$n"; } > "$spool"
      grep -a $icase -F -e "$needle" -- "$spool" > "$tmp/lines.$n"
    elif [ "$kind" = plain ] && [ "$start" = 0 ]; then
      grep -a $icase -F -e "$needle" -- "$f" > "$tmp/lines.$n"
    else
      { source_of || echo bad > "$tmp/bad.$n"; } | grep -a $icase -F -e "$needle" > "$tmp/lines.$n"
    fi
    [ $? -le 1 ] || echo bad > "$tmp/bad.$n"
  }
  # Pass 2: the parts of messages that span files or segments (kept apart in the cache, as
  # `open`), then every line of the queue ids found anywhere in the part not cached: in the
  # order they were written, so the bot makes each message when its `removed` comes.
  second() {
    read -r n kind start size id key mtime spool build log f < "$tmp/plan.$1"
    {
      [ -s "$tmp/lines.$n" ] && $awk "$qid"'qid($0) == ""' "$tmp/lines.$n"
      if [ -s "$tmp/ids" ] && [ -s "$tmp/segs.$n" ]; then
        while read -r s; do cat -- "$s.open"; done < "$tmp/segs.$n" | tr '\0' '\n' |
          $awk "$qid"' NR == FNR { want[$0] = 1; next } (qid($0) in want)' "$tmp/ids" -
      fi
      if [ "$start" -lt "$size" ] && [ -s "$tmp/ids" ]; then
        if [ "$kind" = plain ] && [ "$start" = 0 ]; then $awk -v tagged="$tagged" "$join" "$tmp/ids" "$f"
        elif [ "$spool" != - ] && [ -s "$spool" ]; then $awk -v tagged="$tagged" "$join" "$tmp/ids" "$spool"
        else source_of | $awk -v tagged="$tagged" "$join" "$tmp/ids" -; fi
      fi
    } > "$tmp/more.$n"
    : > "$tmp/done.$n"
    echo "$n" >&4
  }
  show() { printf '#mailbot file mtime=%s path=%s\n' "$1" "$2"; }
  # The window searched: each file's first line (its last is as old as its mtime), its first
  # 300 bytes; read by the shell itself from a plain file.
  while read -r i mtime kind id key size log f; do
    if [ "$kind" = packed ]; then l=$(inflate "$f" 2>/dev/null | { IFS= read -r l; printf '%s' "$l"; })
    else l=; IFS= read -r l < "$f"; fi
    printf '#mailbot first mtime=%s path=%s\n#mailbot line %.300s\n' "$mtime" "$f" "$l"
  done < "$tmp/files"
  # A job rings a bell when its part is done (a line on a FIFO held open here, so a ring never
  # blocks): a writer sleeps on it, without polling.
  mkfifo "$tmp/bell" && exec 4<> "$tmp/bell" || exit 70
  # Each file's cached messages go out as soon as its first pass is done (in the files' order; the
  # first file's as they are found), not once every file's is: the bot starts reading while the
  # other files are searched (a busy address, all cached: its first lines came 0.29-0.39 s after
  # the start, the search ending at 1.0; now at 0.05 s).
  emit_hits() {
    while read -r i mtime kind id key size log f; do
      while [ ! -e "$tmp/hit.$i" ] && [ ! -e "$tmp/hit.all" ]; do read -r _ <&4; done
      streamed "$i" && continue  # written by its job
      if [ -s "$tmp/hits.$i" ]; then show "$mtime" "$f"; tr '\0' '\n' < "$tmp/hits.$i"; fi
    done < "$tmp/files"
  }
  lead=$(head -n 1 "$tmp/files" | cut -d' ' -f1)
  emit_hits & writer=$!; jobs_=$writer
  # shellcheck disable=SC2046  # the files' numbers, one word each
  run first $(cut -d' ' -f1 "$tmp/files")
  : > "$tmp/hit.all"; echo all >&4  # every job is over, whatever became of it
  wait "$writer" || exit $?  # it could not write: the reader is gone, the rest would be for no one
  writer= jobs_=
  { cat "$tmp"/hits.* "$tmp"/ohits.* 2>/dev/null | tr '\0' '\n'; cat "$tmp"/lines.* 2>/dev/null; } |
    $awk -v tag="$tmp/tagged" -v held="$tmp/held" "$qid"'{ q = qid($0); if (q != "") print q
      if (!t && index($0, "]: [ID ")) { t = 1; printf "" > tag }
      if (!h && (index($0, ": hold: ") || index($0, "]: Requeue: "))) { h = 1; printf "" > held } }' |
    sort -u > "$tmp/ids"
  tagged=; [ -e "$tmp/tagged" ] && tagged=1
  [ -e "$tmp/held" ] || requeue=
  join=$join_head$requeue$join_tail
  # Each file's lines go out as soon as its job is done (in the files' order), so the bot reads
  # them while the other files are searched; a bot slow to read holds up only this writer.
  emit() {
    # shellcheck disable=SC2013  # the files' numbers, one word each
    for i in $(cut -d' ' -f1 "$tmp/files"); do
      while [ ! -e "$tmp/done.$i" ]; do read -r _ <&4; done
      read -r n kind start size id key mtime spool build log f < "$tmp/plan.$i"
      show "$mtime" "$f"
      [ -e "$tmp/bad.$i" ] && printf '#mailbot warning partial %s\n' "$f"
      cat -- "$tmp/more.$i"
    done
  }
  emit & writer=$!; jobs_=$writer
  # shellcheck disable=SC2046  # the files' numbers, one word each
  run second $(cut -d' ' -f1 "$tmp/files")
  wait "$writer"; writer= jobs_=
  exec 4<&-
fi
listing "$@" > "$tmp/after"
cmp -s "$tmp/before" "$tmp/after" ||
  printf '#mailbot warning rotated\n'
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
    # shellcheck disable=SC2015  # any step failing skips the file
    mkdir -p "$entry" && valid "$entry" "$f" "$1.segs" || continue
    if [ "$kind" = plain ]; then
      meta=$(stat -L -c '%d-%i %s' -- "$f") || continue
      size=${meta#* }
      # shellcheck disable=SC2015  # any test failing skips the file
      [ "${meta%% *}" = "$id" ] && [ "$size" -gt "$start" ] && [ $((4 * (size - start))) -ge "$start" ] \
        && [ "$(lastbyte "$f" "$size")" = '\n' ] || continue
      hsum=$(headsum "$f"); tsum=$(endsum "$f" "$size")
    else
      [ "$start" = "$size" ] && { [ "$spool" = - ] || rm -f -- "$spool"; continue; }
      hsum=-; tsum=$(tail -c 4096 -- "$f" | sum)
    fi
    seg=seg.$start-$size.$me
    : > "$entry/$seg.open"
    # shellcheck disable=SC2086  # $low $buf $awk: commands and their options, split on purpose
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
# After the answer, in the background (the bot has its answer when this shell exits): the
# cache is tidied, then the builder runs. The job's file is made here, so that it is there
# from the answer's end until the job's (what a test waits on); the job removes $tmp.
tidy() {
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
}
if [ -n "$cache" ] && : > "$cache/.build.$$"; then
  handed=1
  (
    exec </dev/null >/dev/null 2>&1
    trap '' HUP
    tidy
    cat "$tmp"/plan.* 2>/dev/null | awk '$9 == 1' | sort -n > "$cache/.build.$$"
    rm -rf -- "$tmp"
    if [ -s "$cache/.build.$$" ]; then build "$cache/.build.$$"; else rm -f -- "$cache/.build.$$"; fi
  ) &
fi
exit 0
