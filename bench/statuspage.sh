#!/usr/bin/env bash
# Load test of the public status page on loopback: 200 components and a
# year of history (bench/statuspage), driven by wrk. Prints requests/s and
# latency percentiles for / and /api/v2/summary.json, plain and gzip, and
# the server's resident memory before and after the measured runs.
#   bench/statuspage.sh                 # 10 s per run, 64 connections
#   DURATION=30s CONNS=128 bench/statuspage.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
command -v wrk >/dev/null || { echo "wrk is required (Debian package wrk)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/statuspage" ./bench/statuspage
"$tmp/statuspage" -components 200 -days 365 >"$tmp/out" &
pid=$!
for _ in $(seq 100); do grep -q '^url ' "$tmp/out" 2>/dev/null && break; sleep 0.1; done
url=$(awk '/^url /{print $2}' "$tmp/out")
[ -n "$url" ] || { echo "server did not start" >&2; cat "$tmp/out" >&2; exit 1; }
sed -n 2p "$tmp/out"
rss() { awk '/VmRSS/{print $2}' "/proc/$pid/status"; }

load() { # path encoding duration
  wrk -t"$THREADS" -c"$CONNS" -d"$3" --latency -H "Accept-Encoding: $2" "$url$1" >"$tmp/wrk"
  awk -v p="$1" -v e="$2" '
    /Requests\/sec/ {rps=$2}
    /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
    /Transfer\/sec/ {tr=$2}
    /Non-2xx/ {bad=$NF}
    END {printf "%-22s %-8s %10s req/s  p50 %8s  p99 %8s  %s/s%s\n", p, e, rps, p50, p99, tr, (bad ? "  NON-2XX " bad : "")}' "$tmp/wrk"
}

# Warm up (first gzip of each body, connection pools), then measure.
load /api/v2/summary.json gzip 2s >/dev/null
load / gzip 2s >/dev/null
rss_before=$(rss)
for path in /api/v2/summary.json /; do
  for enc in identity gzip; do
    load "$path" "$enc" "$DURATION"
  done
done
rss_after=$(rss)
echo "server RSS before ${rss_before} kB, after ${rss_after} kB"
for path in /api/v2/summary.json /; do
  for enc in identity gzip; do
    printf '%-22s %-8s %s bytes\n' "$path" "$enc" "$(curl -s -H "Accept-Encoding: $enc" "$url$path" | wc -c)"
  done
done
kill -INT "$pid"
wait "$pid" || true
grep heap_inuse "$tmp/out" || true
