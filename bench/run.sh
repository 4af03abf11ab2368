#!/usr/bin/env bash
# Side-by-side benchmark of vsoc-sniproxy against nginx (stream + ssl_preread) and HAProxy
# (req.ssl_sni), all in front of the same nginx TLS backend on loopback, driven by the same clients.
#
#   bench/run.sh [OUTDIR]
#
# Targets: direct (the backend itself), vsoc, nginx (as it comes: at the first end of a stream it
# closes both sides), nginx-hc (the same with proxy_half_close on: it relays half-closes, as vsoc and
# HAProxy do) and haproxy.
#
# Environment: ROUNDS (5: each target once in every position) rounds of every measurement (the
# report shows medians), DUR (4) seconds per wrk/h2load run, BULK_MB (1024) size of the bulk
# download, IDLE_N (9000) idle connections (bounded by the 20000 open-file limit: a proxy holds 2
# sockets per connection), VSOC_GOMAXPROCS (unset; the GOMAXPROCS vsoc-sniproxy starts with: 1 runs
# one relay loop, as in the rendered pod).
# Needs: nginx, libnginx-mod-stream, haproxy, wrk, nghttp2-client (h2load), curl, openssl.
#
# The SNI name is "localhost": wrk takes the SNI from the URL host and "localhost" resolves to
# 127.0.0.1 without touching /etc/hosts; every proxy routes it to the backend on 127.0.0.2.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/.cache/bench/$(date -u +%Y%m%dT%H%M%SZ)}
ROUNDS=${ROUNDS:-5}
DUR=${DUR:-4}
BULK_MB=${BULK_MB:-1024}
IDLE_N=${IDLE_N:-9000}
VSOC_GOMAXPROCS=${VSOC_GOMAXPROCS:-}
CONNS=${CONNS:-32}

BACKEND_PORT=29443
declare -A PORT=([direct]=29443 [vsoc]=29444 [nginx]=29445 [haproxy]=29446 [nginx-hc]=29447)
DNS_ADDR=127.0.0.1:29353

for tool in nginx haproxy wrk h2load curl openssl go; do
	command -v "$tool" >/dev/null || { echo "bench: $tool not found (see the header for packages)" >&2; exit 1; }
done
[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] || { echo "bench: install libnginx-mod-stream" >&2; exit 1; }

mkdir -p "$OUT/www"
cd "$OUT"
echo "bench: results in $OUT"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

(cd "$ROOT" && CGO_ENABLED=0 go build -o "$OUT/vsoc-sniproxy" ./cmd/vsoc-sniproxy && go build -o "$OUT/harness" ./bench/harness)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -out cert.pem \
	-days 1 -subj /CN=localhost -addext subjectAltName=DNS:localhost 2>/dev/null
truncate -s "${BULK_MB}M" www/bulk.bin

# --- the shared TLS backend (nginx http, 2 workers), on 127.0.0.1 for direct and 127.0.0.2 for proxies
cat >backend.conf <<EOF
user root;
worker_processes 2;
worker_rlimit_nofile 20000;
daemon off;
pid $OUT/backend.pid;
error_log $OUT/backend-error.log warn;
events { worker_connections 20000; }
http {
	access_log off;
	keepalive_requests 100000000;
	keepalive_timeout 300s;
	client_body_temp_path $OUT/tmp;
	proxy_temp_path $OUT/tmp;
	fastcgi_temp_path $OUT/tmp;
	uwsgi_temp_path $OUT/tmp;
	scgi_temp_path $OUT/tmp;
	server {
		listen 127.0.0.1:$BACKEND_PORT ssl http2;
		listen 127.0.0.2:$BACKEND_PORT ssl http2;
		ssl_certificate $OUT/cert.pem;
		ssl_certificate_key $OUT/key.pem;
		location = /small { default_type text/plain; return 200 "ok\n"; }
		location / { root $OUT/www; }
	}
}
EOF
mkdir -p tmp
nginx -p "$OUT" -c "$OUT/backend.conf" & PIDS+=($!)

# --- vsoc-sniproxy: dynamic routing (DNS + allowlist), audit to a file, like in production
./harness dns -listen "$DNS_ADDR" -name localhost -addr 127.0.0.2 & PIDS+=($!)
cat >vsoc.yaml <<EOF
listeners:
  - {name: https, address: "127.0.0.1:${PORT[vsoc]}", protocol: tls, upstreamPort: $BACKEND_PORT}
allow: ["localhost"]
allowedDestinations: ["127.0.0.2/32"]
resolvers: ["$DNS_ADDR"]
maxConnections: 15000
audit: $OUT/vsoc-audit.jsonl
EOF
env ${VSOC_GOMAXPROCS:+GOMAXPROCS=$VSOC_GOMAXPROCS} ./vsoc-sniproxy --config vsoc.yaml --watch-interval 0 2>vsoc.log &
VSOC_PID=$!; PIDS+=($VSOC_PID)

# --- nginx stream with ssl_preread, 2 workers: TARGET and its proxy_half_close setting
start_nginx() {
	local t=$1 half_close=$2
	cat >"$t-proxy.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 2;
worker_rlimit_nofile 20000;
daemon off;
pid $OUT/$t-proxy.pid;
error_log $OUT/$t-proxy-error.log warn;
events { worker_connections 20000; }
stream {
	map \$ssl_preread_server_name \$upstream {
		localhost 127.0.0.2:$BACKEND_PORT;
		default 127.0.0.1:1;
	}
	server {
		listen 127.0.0.1:${PORT[$t]};
		ssl_preread on;
		proxy_pass \$upstream;
		proxy_connect_timeout 5s;
		proxy_half_close $half_close;
	}
}
EOF
	nginx -p "$OUT" -c "$OUT/$t-proxy.conf" &
}
start_nginx nginx off
NGINX_PID=$!; PIDS+=($NGINX_PID)
start_nginx nginx-hc on
NGINX_HC_PID=$!; PIDS+=($NGINX_HC_PID)

# --- HAProxy with req.ssl_sni, 2 threads
cat >haproxy.cfg <<EOF
global
	nbthread 2
	maxconn 9800
defaults
	mode tcp
	timeout connect 5s
	timeout client 10m
	timeout server 10m
frontend fe
	bind 127.0.0.1:${PORT[haproxy]}
	tcp-request inspect-delay 5s
	tcp-request content accept if { req.ssl_hello_type 1 }
	use_backend be if { req.ssl_sni -i localhost }
backend be
	server s1 127.0.0.2:$BACKEND_PORT
EOF
haproxy -f haproxy.cfg -q & HAPROXY_PID=$!; PIDS+=($HAPROXY_PID)

wait_port() {
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "bench: nothing listens on $1" >&2
	exit 1
}
for t in direct vsoc nginx nginx-hc haproxy; do wait_port "${PORT[$t]}"; done
# Every relay loop accepts on a listening socket of its own.
loops=$(awk -v port=":$(printf '%04X' "${PORT[vsoc]}")" '$4 == "0A" && substr($2, length($2) - 4) == port' /proc/net/tcp | wc -l)
echo "bench: vsoc-sniproxy runs $loops relay loop(s)${VSOC_GOMAXPROCS:+ (GOMAXPROCS=$VSOC_GOMAXPROCS)}"

# Sanity: every target serves the backend.
for t in direct vsoc nginx nginx-hc haproxy; do
	curl -sSfk "https://localhost:${PORT[$t]}/small" >/dev/null || { echo "bench: $t does not proxy" >&2; exit 1; }
done
# Warm-up: the first read of bulk.bin fills the backend's page cache. Without it the first bulk
# download of round 1 ran at about half speed (380-445 MB/s for direct, in each of 8 runs).
curl -sSfk -o /dev/null "https://localhost:${PORT[direct]}/bulk.bin"

RESULTS=$OUT/results.tsv
: >"$RESULTS"
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RESULTS"; }

# CPU the proxy processes spend (utime+stime, clock ticks) — steadier than throughput on a shared
# machine, since it does not depend on how much CPU the others leave us.
proxy_pids() {
	case $1 in
	vsoc) echo "$VSOC_PID" ;;
	nginx) echo "$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')" ;;
	nginx-hc) echo "$NGINX_HC_PID $(pgrep -P "$NGINX_HC_PID" | tr '\n' ' ')" ;;
	haproxy) echo "$HAPROXY_PID" ;;
	esac
}
cpu_ticks() {
	local t=0 p
	for p in $1; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
	echo "$t"
}
HZ=$(getconf CLK_TCK)
BULK_GIB=$(awk -v mb="$BULK_MB" 'BEGIN{print mb / 1024}')
# cpu_start TARGET: starts counting the proxy's CPU (nothing for direct).
cpu_start() {
	CPU_PIDS=$(proxy_pids "$1")
	[ -z "$CPU_PIDS" ] || CPU0=$(cpu_ticks "$CPU_PIDS")
}
# cpu_record TARGET METRIC UNIT WORK: records the proxy's CPU since cpu_start per unit of WORK,
# in UNIT per second of CPU (1e6: µs).
cpu_record() {
	[ -n "$CPU_PIDS" ] || return 0
	local c1
	c1=$(cpu_ticks "$CPU_PIDS")
	record "$1" "$2" "$(awk -v c=$((c1 - CPU0)) -v hz="$HZ" -v unit="$3" -v work="$4" 'BEGIN{printf "%.2f", c * unit / hz / work}')"
}
# wrk_measure TARGET METRIC CPU_METRIC WRK_ARGS...: records requests/s and, for proxies, CPU µs per request.
wrk_measure() {
	local t=$1 metric=$2 cpu_metric=$3 out
	shift 3
	cpu_start "$t"
	out=$(wrk "$@")
	record "$t" "$metric" "$(echo "$out" | awk '/Requests\/sec/{print $2}')"
	cpu_record "$t" "$cpu_metric" 1e6 "$(echo "$out" | awk '/requests in/{print $1}')"
}

# Each measurement runs for the five targets back to back, in an order that rotates every round,
# so that a burst of load from elsewhere on the machine hits them alike rather than one target.
TARGETS=(direct vsoc nginx nginx-hc haproxy)
for round in $(seq "$ROUNDS"); do
	shift_by=$(((round - 1) % ${#TARGETS[@]}))
	order=("${TARGETS[@]:shift_by}" "${TARGETS[@]:0:shift_by}")
	for t in "${order[@]}"; do
		cpu_start "$t"
		bps=$(curl -sk -o /dev/null -w '%{speed_download}' "https://localhost:${PORT[$t]}/bulk.bin")
		record "$t" bulk_MBps "$(awk -v b="$bps" 'BEGIN{printf "%.1f", b/1e6}')"
		cpu_record "$t" bulk_cpu_ms_per_GiB 1e3 "$BULK_GIB"
	done
	for t in "${order[@]}"; do
		wrk_measure "$t" newconn_rps newconn_cpu_us -t2 -c"$CONNS" -d"${DUR}s" -H 'Connection: close' "https://localhost:${PORT[$t]}/small"
	done
	for t in "${order[@]}"; do
		wrk_measure "$t" keepalive_rps keepalive_cpu_us -t2 -c"$CONNS" -d"${DUR}s" "https://localhost:${PORT[$t]}/small"
	done
	for t in "${order[@]}"; do
		cpu_start "$t"
		out=$(h2load -t2 -c"$CONNS" -m8 -D"$DUR" "https://localhost:${PORT[$t]}/small" 2>/dev/null)
		record "$t" h2_rps "$(echo "$out" | awk '/^finished in/{gsub(",","",$4); print $4}')"
		cpu_record "$t" h2_cpu_us 1e6 "$(echo "$out" | awk '/^requests:/{print $6}')"
	done
	echo "bench: round $round done (order: ${order[*]})"
done

# Memory of IDLE_N idle proxied connections, one proxy at a time (nginx-hc holds them as nginx does).
nginx_pids=$(pgrep -d, -P "$NGINX_PID" || true)
for t in vsoc nginx haproxy; do
	case $t in
	vsoc) pids=$VSOC_PID ;;
	nginx) pids="$NGINX_PID${nginx_pids:+,$nginx_pids}" ;;
	haproxy) pids=$HAPROXY_PID ;;
	esac
	./harness idle -target "127.0.0.1:${PORT[$t]}" -n "$IDLE_N" -pids "$pids" >"idle-$t.json"
	kib=$(sed -n 's/.*"kib_per_conn":\([0-9.]*\).*/\1/p' "idle-$t.json")
	record "$t" idle_kib_per_conn "${kib:-0}"
	echo "bench: idle $t: $(cat "idle-$t.json")"
	sleep 2
done

echo
./harness report "$RESULTS" | tee report.txt
