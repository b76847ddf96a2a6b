#!/usr/bin/env bash
# Makes sure a Redis answers at REDIS_URL (default redis://127.0.0.1:6379/0).
# When none does and the address is local, starts a throw-away redis-server
# (no persistence), installing it with the system package manager if needed.
# With --with-binary the redis-server program is installed even when a Redis
# already answers: the tests start private servers of their own.
set -euo pipefail

want_binary=false
[ "${1:-}" = "--with-binary" ] && want_binary=true

url=${REDIS_URL:-redis://127.0.0.1:6379/0}
hostport=${url#*://}
hostport=${hostport##*@}
hostport=${hostport%%/*}
host=${hostport%:*}
port=${hostport##*:}
[ "$host" = "$hostport" ] && port=6379
[ -n "$host" ] || host=127.0.0.1

ping() {
  # RESP PING over bash's /dev/tcp: needs no redis-cli.
  local reply
  { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  IFS= read -r -t 2 reply <&3 || true
  exec 3>&- 3<&-
  case "$reply" in
    +PONG*|-NOAUTH*) return 0 ;; # a password-protected Redis is still a Redis
  esac
  return 1
}

install_redis() {
  echo "ensure-redis: redis-server not found; installing it" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if command -v apt-get >/dev/null 2>&1; then
    $sudo apt-get update -qq >&2 && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2
  elif command -v dnf >/dev/null 2>&1; then
    $sudo dnf install -y redis >&2
  elif command -v apk >/dev/null 2>&1; then
    $sudo apk add redis >&2
  elif command -v brew >/dev/null 2>&1; then
    brew install redis >&2
  else
    echo "ensure-redis: no known package manager; install redis-server" >&2
    exit 1
  fi
}

if $want_binary && ! command -v redis-server >/dev/null 2>&1; then
  install_redis
fi

if ping; then
  exit 0
fi

case "$host" in
  127.0.0.1|localhost|::1) ;;
  *) echo "ensure-redis: no Redis answers at $host:$port and it is not local; start it or set REDIS_URL" >&2; exit 1 ;;
esac

if ! command -v redis-server >/dev/null 2>&1; then
  install_redis
fi

dir=${TMPDIR:-/tmp}/threadsync-redis-$port
mkdir -p "$dir"
echo "ensure-redis: starting redis-server on $host:$port (data in $dir, not persisted)" >&2
redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
  --dir "$dir" --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" >&2

for _ in $(seq 1 100); do
  ping && exit 0
  sleep 0.1
done
echo "ensure-redis: redis-server did not answer on $host:$port; see $dir/redis.log" >&2
exit 1
