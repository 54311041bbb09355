#!/bin/sh
# The syncd image's entrypoint.
#
# `run` (the default) first applies the database migrations, then becomes the daemon, so a
# container on a fresh volume or a new PostgreSQL database starts without a manual step; two
# containers starting at once are safe (`syncd db upgrade` takes a lock). Its options
# (`--config FILE`) are given to both. Any other command runs as given:
#   docker run syncd check            docker run syncd runs --limit 5
# Configuration comes from /app/syncd.yaml when one is mounted, otherwise from SYNCD_...
# environment variables alone (see the README's "Running in a container").
set -eu

if [ "$#" -eq 0 ]; then
  set -- run
fi

if [ "$1" = "run" ]; then
  shift
  syncd db upgrade "$@"
  exec syncd run "$@"
fi

exec syncd "$@"
