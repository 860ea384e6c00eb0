# BlueMind 5: several restores by item id (bm-cli takes one --id a run).
# Sent as /bin/sh -c SCRIPT mailbot-restore BM_CLI EMAIL FOLDER AUTHN ID...
# AUTHN is `-`, or for a mailshare the user bm-cli acts as (--authn).
# shellcheck shell=sh
bmcli=$1 email=$2 folder=$3 authn=$4; shift 4
for id do
  if [ "$authn" = - ]; then
    sudo -n "$bmcli" mail unexpunge "$email" --folder "$folder" --id "$id" || exit
  else
    sudo -n "$bmcli" mail unexpunge "$email" --folder "$folder" --authn "$authn" --id "$id" || exit
  fi
done
