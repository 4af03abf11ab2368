#!/usr/bin/env bash
# Installs the real programs the tests drive (DESIGN §6) when they are
# missing: sshd and nc for the proxy's CONNECT test, curl/openssl as clients,
# ssh -G for the rendered SSH config, prlimit to run the proxy short of file
# descriptors, strace to count the relay's system calls, nginx/HAProxy/wrk/h2load as benchmark peers. Go-built parts (kube-apiserver, etcd, CoreDNS, the NetworkPolicy
# oracle) are built by the tests themselves into .cache/.
set -euo pipefail

need=()
check() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
check sshd openssh-server
check ssh openssh-client
check nc netcat-openbsd
check curl curl
check openssl openssl
check dig dnsutils
check nginx nginx
check haproxy haproxy
check wrk wrk
check h2load nghttp2-client
check prlimit util-linux
check strace strace
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || need+=(libnginx-mod-stream)
# nc must be the OpenBSD one: only it speaks `-X connect`.
if command -v nc >/dev/null 2>&1 && ! nc -h 2>&1 | grep -q -- '-X proxy_protocol'; then
  need+=(netcat-openbsd)
fi

[ ${#need[@]} -eq 0 ] && exit 0
echo "test-deps: installing ${need[*]}"
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: need root and apt-get to install: ${need[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
