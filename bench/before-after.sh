#!/usr/bin/env bash
# before-after.sh measures one server of the load harness at two commits in
# one run: the harness is built at BASE (the "before") and at the working
# tree (the "after"), and the two are run in turn ROUNDS times, each run
# measuring the server beside bare Gin, so every figure is a ratio to bare
# Gin measured minutes apart on the same machine.
#
#   BASE=f9cf2f3 SERVER=ginkit/file ROUTES=write bench/before-after.sh
#
# Output: one line per run (commit, round, route, requests/s, ratio to
# bare Gin, p99) in results/before-after-<stamp>.txt, and the medians.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BASE=${BASE:?BASE=<commit> is the code before the change}
SERVER=${SERVER:-ginkit/file}
ROUTES=${ROUTES:-write}
ROUNDS=${ROUNDS:-3}
ARGS=${ARGS:--duration 8s -slices 4}
work=$(mktemp -d)
trap 'git -C "$here/.." worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git -C "$here/.." worktree add -q --detach "$work/base" "$BASE"
(cd "$work/base/bench" && go build -o "$work/loadtest-before" ./cmd/loadtest)
(cd "$here" && go build -o "$work/loadtest-after" ./cmd/loadtest)
mkdir -p "$here/results"
out="$here/results/before-after-$(date -u +%Y%m%d-%H%M%S).txt"
echo "# $SERVER, routes $ROUTES: before = $BASE, after = $(git -C "$here/.." rev-parse --short HEAD)$(git -C "$here/.." diff --quiet || echo '+changes'); $ROUNDS rounds, $ARGS" | tee "$out"
for round in $(seq "$ROUNDS"); do
  for which in before after; do
    dir="$work/$which-$round"
    "$work/loadtest-$which" -servers "$SERVER" -routes "$ROUTES" -runs 1 $ARGS -out "$dir" >"$dir.log" 2>&1 ||
      { cat "$dir.log"; exit 1; }
    # The JSON results: one object per measurement.
    python3 - "$dir" "$which" "$round" "$SERVER" <<'PY' | tee -a "$out"
import glob, json, sys
d, which, rnd, server = sys.argv[1:]
data = json.load(open(glob.glob(d + "/*.json")[0]))
for r in data["results"]:
    if r["server"] == server:
        print(f"{which}\tround {rnd}\t{r['route']}\t{r['rps']:.0f} req/s\tratio {r['ratio']:.3f}\tp99 {r['p99_us']/1000:.2f} ms")
PY
  done
done
python3 - "$out" <<'PY' | tee -a "$out"
import sys, statistics, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    if line.startswith(("before", "after")):
        f = line.split("\t")
        rows[(f[0], f[2])].append(float(f[4].split()[1]))
for (which, route), xs in sorted(rows.items()):
    print(f"median {which} {route}: ratio to bare Gin {statistics.median(xs):.3f} ({len(xs)} runs)")
PY
