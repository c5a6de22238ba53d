#!/bin/sh
# Holds probed's database locked by another process (BEGIN EXCLUSIVE from a
# second connection) for HOLD (default 80s) while the built binary probes
# the demo's simulated CA (all five kinds, every 2 s), then checks: no run
# skipped or failed, no draft, every result written after the lock, and the
# operator API answered 503 with Retry-After during it. The figures are in
# the test's log line ("lock held ...").
#
#   bench/storelock.sh          # 80 s
#   HOLD=300s bench/storelock.sh
set -eu
cd "$(dirname "$0")/.."
exec go test ./cmd/probed -count=1 -run '^TestLockedDatabaseEndToEnd$' -v -timeout 30m -store.lockhold "${HOLD:-80s}"
