# `mailbot check`: each configured log (and its rotated siblings) and each tool, read-only.
# Sent as /bin/sh -c SCRIPT mailbot-probe LOG...
# shellcheck shell=sh
export LC_ALL=C
for log do
  # shellcheck disable=SC2045  # newest last, as ls -tr sorts them; log paths hold no space
  for f in $(ls -tr -- "$log" "$log".[0-9]* "$log"-[0-9]* 2>/dev/null); do
    if [ -r "$f" ]; then printf 'log readable %s %s\n' "$(stat -c %s -- "$f")" "$f"; else printf 'log unreadable 0 %s\n' "$f"; fi
  done
  [ -e "$log" ] || printf 'log missing 0 %s\n' "$log"
done
for tool in /usr/sbin/postqueue /usr/sbin/postconf /usr/sbin/postcat /usr/lib/cyrus/bin/unexpunge /usr/lib/cyrus/bin/mbpath bm-cli grep awk gzip pigz; do
  if command -v "$tool" >/dev/null 2>&1; then printf 'tool present %s\n' "$tool"; else printf 'tool absent %s\n' "$tool"; fi
done
