#!/usr/bin/env bash
# Whole-command figures for the compiler on synthetic fleets, side by side in
# one run: wall, user and system time and peak RSS of `vsoc-compile validate`
# and `build` on 1,000 and 10,000 customers, cold (no cache) and warm
# (unchanged files come from the content-hash cache). `build` runs into a new
# OUT first, then again into the same OUT, which it replaces. OUT is in a
# mktemp folder: on the disk /tmp is on, not necessarily tmpfs.
#
#   bash bench/fleet.sh            # sizes 1000 10000
#   SIZES="1000" bash bench/fleet.sh
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${SIZES:-"1000 10000"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/bin/" ./cmd/vsoc-compile
bin="$work/bin/vsoc-compile"
measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" >/dev/null
  read -r wall user sys rss <"$work/time"
  printf '%-46s %7.2f s %7.2f s %7.2f s  %7d MiB\n' "$label" "$wall" "$user" "$sys" "$((rss / 1024))"
}

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-46s %9s %9s %9s  %11s\n' "command" "wall" "user" "sys" "peak RSS"
for n in $sizes; do
  go run ./testdata/genfleet -n "$n" -o "$work/fleet$n"
  measure "validate $n cold (--no-cache)" "$bin" validate --no-cache "$work/fleet$n"
  measure "validate $n (fills cache)" "$bin" validate --cache-dir "$work/cache$n" "$work/fleet$n"
  measure "validate $n warm" "$bin" validate --cache-dir "$work/cache$n" "$work/fleet$n"
  measure "build $n cold (--no-cache), new OUT" "$bin" build --no-cache "$work/fleet$n" -o "$work/out$n"
  measure "build $n cold (--no-cache), replacing OUT" "$bin" build --no-cache "$work/fleet$n" -o "$work/out$n"
  measure "build $n warm" "$bin" build --cache-dir "$work/cache$n" "$work/fleet$n" -o "$work/out$n"
done
