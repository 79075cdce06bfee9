# Sourced by the start and test scripts: finds or starts PostgreSQL and Redis on this machine.
# ensure_postgres / ensure_redis return non-zero when the service cannot be had, so callers can fall back.
# SIGHTLINE_PG_PORT / SIGHTLINE_REDIS_PORT: where to look on 127.0.0.1 (5432 / 6379).
PG_PORT=${SIGHTLINE_PG_PORT:-5432}
REDIS_PORT=${SIGHTLINE_REDIS_PORT:-6379}

_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure_postgres() {
  _port_open "$PG_PORT" && return 0
  if command -v pg_ctlcluster >/dev/null && ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "[services] starting PostgreSQL"
    local v
    v=$(ls /etc/postgresql | sort -V | tail -1)
    pg_ctlcluster --skip-systemctl-redirect "$v" main start 2>/dev/null \
      || runuser -u postgres -- pg_ctlcluster "$v" main start 2>/dev/null || true
    for _ in $(seq 1 30); do _port_open "$PG_PORT" && return 0; sleep 0.5; done
  fi
  return 1
}

# A fresh Debian install only trusts local socket peers: give the postgres role a password for TCP.
postgres_url() {
  local db=${1:-sightline}
  if psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -w -d postgres -Atc 'select 1' >/dev/null 2>&1; then
    echo "postgres://postgres@127.0.0.1:$PG_PORT/$db"
    return 0
  fi
  local pw=${SIGHTLINE_PG_PASSWORD:-sightline-local}
  if PGPASSWORD=$pw psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -w -d postgres -Atc 'select 1' >/dev/null 2>&1 \
     || runuser -u postgres -- psql -qc "ALTER USER postgres PASSWORD '$pw'" >/dev/null 2>&1; then
    echo "postgres://postgres:$pw@127.0.0.1:$PG_PORT/$db"
    return 0
  fi
  return 1
}

ensure_redis() {
  _port_open "$REDIS_PORT" && return 0
  if command -v redis-server >/dev/null; then
    echo "[services] starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/sightline.log >/dev/null
    for _ in $(seq 1 30); do _port_open "$REDIS_PORT" && return 0; sleep 0.2; done
  fi
  return 1
}
