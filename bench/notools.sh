#!/bin/sh
# Runs `go test ./...` as a laptop without the tests' system programs would:
# PATH is rebuilt from symlinks to every program on it except openssl,
# promtool, prometheus, alertmanager, chromium, node/npm, python and
# PostgreSQL's initdb/pg_ctl/postgres (PROBED_PGTEST_BIN=none hides Debian's
# /usr/lib/postgresql too), and PROBED_REQUIRE_TOOLS is unset. Every test that
# needs one of them must skip with a message naming the program and its
# Debian package; any failure fails the script. At the end it prints each
# skip and its reason.
#
#   bench/notools.sh                 # every package
#   bench/notools.sh ./probes ./web/...
set -eu
cd "$(dirname "$0")/.."
hide='openssl promtool prometheus prometheus-alertmanager alertmanager amtool
chromium chromium-browser google-chrome google-chrome-stable chrome
node nodejs npm npx python python3 pip pip3
initdb pg_ctl pg_ctlcluster postgres psql pg_config'
bin=$(mktemp -d)
out=$(mktemp)
trap 'rm -rf "$bin" "$out"' EXIT
IFS=:
for d in $PATH; do
	[ -d "$d" ] || continue
	for f in "$d"/*; do
		n=${f##*/}
		[ -x "$f" ] && [ ! -d "$f" ] || continue
		[ -e "$bin/$n" ] && continue
		case " $(echo $hide | tr '\n' ' ') " in *" $n "*) continue ;; esac
		ln -s "$f" "$bin/$n"
	done
done
unset IFS
for n in $hide; do
	if PATH=$bin command -v "$n" >/dev/null 2>&1; then echo "notools: $n still on PATH" >&2; exit 1; fi
done
[ $# -gt 0 ] || set -- ./...
start=$(date +%s)
rc=0
env -u PROBED_REQUIRE_TOOLS PATH="$bin" PROBED_PGTEST_BIN=none GOFLAGS="${GOFLAGS:-}" \
	go test -count=1 -timeout 30m -json "$@" >"$out" || rc=$?
end=$(date +%s)
# Skipped tests and their reasons, failures with their output.
go run ./bench/notools <"$out" || rc=1
echo "notools: go test $* without the tools: exit $rc in $((end - start))s"
exit $rc
