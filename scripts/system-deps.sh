#!/usr/bin/env bash
# Checks (and where it can, installs) what the local cloud needs from the system.
# One clear line per missing prerequisite; exit 1 if any is missing and could not be installed.
set -u
missing=0
need() { echo "missing prerequisite: $*" >&2; missing=1; }

apt_install() {
  # Debian packages install themselves when we are root and apt works; otherwise we say what to run.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    if [ ! -f /tmp/.obt-apt-updated ]; then apt-get update -qq >/dev/null 2>&1 && touch /tmp/.obt-apt-updated; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1
  else
    return 1
  fi
}

command -v python3 >/dev/null || need "python3 (3.11): apt-get install python3 python3-venv"
command -v java >/dev/null || apt_install openjdk-17-jre-headless || need "Java 17 for Spark: apt-get install openjdk-17-jre-headless"
[ -x /usr/lib/postgresql/15/bin/initdb ] || apt_install postgresql-15 || need "PostgreSQL 15 server binaries: apt-get install postgresql-15"
command -v psql >/dev/null || apt_install postgresql-client-15 || need "psql: apt-get install postgresql-client-15"
if [ -z "${OBT_PUBSUB_EMULATOR:-}" ] && [ ! -x /usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator ]; then
  need "Google's Pub/Sub emulator (not on PyPI/Debian): install the Google Cloud CLI component 'pubsub-emulator' or set OBT_PUBSUB_EMULATOR to its cloud-pubsub-emulator script"
fi
if [ "${OBT_WITH_BROWSER:-1}" = 1 ]; then
  command -v chromium >/dev/null || apt_install chromium || need "Chromium for the report test: apt-get install chromium"
fi
exit $missing
