#!/usr/bin/env bash
# instr.sh counts the instructions the server process executes per request,
# under valgrind's callgrind, for in-process stores (no Redis or memcached
# needed). Unlike requests per second, the count does not move with other
# work on a shared machine, so it can resolve differences of a few percent
# that the load harness cannot. Run it with `make instr`.
#
#	./instr.sh [route] [seconds] [server...]
#
# Defaults: route none, 10 seconds, servers bare floor ginkit/memory
# gincontrib/memstore gincontrib/cookie. Each server runs under callgrind
# with instrumentation off until its session pool is made and wrk has
# warmed it up for 3 seconds; then callgrind counts while wrk (1 thread, 8
# connections: valgrind runs one thread at a time) sends requests with
# cookies from the pool. The count includes the garbage collector's share,
# but the collector's pacing under valgrind differs from a native run, so
# the figures are for comparing middleware, not for predicting throughput.
set -euo pipefail

route=${1:-none}
secs=${2:-10}
shift $(($# < 2 ? $# : 2))
servers=("$@")
[ ${#servers[@]} -gt 0 ] || servers=(bare floor ginkit/memory gincontrib/memstore gincontrib/cookie)

for bin in valgrind callgrind_control wrk curl; do
	command -v "$bin" >/dev/null || { echo "instr.sh: $bin is missing (apt-get install valgrind wrk curl)" >&2; exit 1; }
done

cd "$(dirname "$0")"
go build -o loadtest ./cmd/loadtest
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A free port for each server, from the kernel.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

printf '%-22s %-7s %9s %12s\n' server route requests instr/req
for srv in "${servers[@]}"; do
	port=$(free_port)
	log="$tmp/valgrind.log"
	# Go's asynchronous preemption signals trip callgrind; the scheduler
	# still preempts at function calls.
	GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --instr-atstart=no \
		--callgrind-out-file="$tmp/callgrind.out" \
		./loadtest serve -server "$srv" -listen "127.0.0.1:$port" -dir "$tmp/files" >"$log" 2>&1 &
	pid=$!
	for _ in $(seq 1 120); do
		curl -s -m 2 -o /dev/null "http://127.0.0.1:$port/none" && break
		sleep 0.5
	done
	pool="$tmp/pool.txt"
	: >"$pool"
	for _ in $(seq 1 300); do
		case "$srv" in
		bare | floor) echo "session=$(head -c 32 /dev/urandom | base64 | tr -d '=+/\n' | head -c 43)" >>"$pool" ;;
		*) curl -s -D - -o /dev/null "http://127.0.0.1:$port/write" |
			sed -nE 's/^[Ss]et-[Cc]ookie: ([^;]*);.*/\1/p' | head -1 >>"$pool" ;;
		esac
	done
	wrk -t1 -c8 -d3s -s cmd/loadtest/pool.lua "http://127.0.0.1:$port/$route" -- "$pool" >/dev/null
	callgrind_control -i on "$pid" >/dev/null 2>&1
	n=$(wrk -t1 -c8 -d"${secs}s" -s cmd/loadtest/pool.lua "http://127.0.0.1:$port/$route" -- "$pool" | awk '/requests in/ {print $1}')
	callgrind_control -i off "$pid" >/dev/null 2>&1
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null || true
	ir=$(awk '/Collected :/ {print $NF}' "$log")
	printf '%-22s /%-6s %9d %12d\n' "$srv" "$route" "$n" $((ir / n))
done
