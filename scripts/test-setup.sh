#!/usr/bin/env bash
# What the test suite needs besides node_modules, made ready before `npm test` runs it:
# OpenSSH's sshd (ssh driver tests) and Chromium (approvals inbox e2e) from Debian's packages,
# and the local PostgreSQL, MariaDB and Redis (started if they are not running). Says what it does.
set -euo pipefail

missing=()
for pkg in openssh-server openssh-client chromium; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "test-setup: the tests need ${missing[*]} (Debian packages); install them (as root: apt-get install ${missing[*]}) and run again" >&2
    exit 1
  fi
  echo "test-setup: installing ${missing[*]} from Debian's packages (sshd for the ssh tests, chromium for the inbox e2e test)…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
wait_port() { # host port name
  for _ in $(seq 1 60); do
    port_open "$1" "$2" && return 0
    sleep 0.5
  done
  echo "test-setup: $3 did not come up on $1:$2" >&2
  return 1
}
start() { # name port command...
  local name=$1 port=$2
  shift 2
  port_open 127.0.0.1 "$port" && return 0
  echo "test-setup: starting $name"
  "$@" || true
  wait_port 127.0.0.1 "$port" "$name"
}
start postgresql 5432 pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql 2>/dev/null | head -1)" main start
start mariadb 3306 start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
start redis 6379 redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
