#!/usr/bin/env bash
# Checks compose.yaml offline: `docker compose config -q` (or the older
# `docker-compose config -q`) parses it, checks it against the Compose
# schema and resolves its variables, with no Docker engine needed. Where
# neither command exists it says so and passes: Docker is not part of the
# test environment (Debian: apt-get install docker-compose).
set -euo pipefail
cd "$(dirname "$0")/.."

# Validate the default (Redis) and one switched backend.
check() {
	"$@" -f compose.yaml config -q
	SESSION_DSN=memcached://memcached:11211 "$@" -f compose.yaml config -q
	echo "compose.yaml is valid ($*)"
}

if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
	check docker compose
elif command -v docker-compose >/dev/null 2>&1; then
	check docker-compose
else
	echo "compose-check: neither docker compose nor docker-compose is installed; compose.yaml not checked"
fi
