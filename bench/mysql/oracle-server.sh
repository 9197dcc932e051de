#!/bin/sh
# A private, throwaway MariaDB for bench/mysql/corpus.ts's oracle (MariaDB's own test suite runs SET
# GLOBAL, FLUSH, KILL, changes users and system tables: never point it at a shared server). Creates a
# fresh data directory on tmpfs, a user warden_oracle with ALL WITH GRANT OPTION, and starts mariadbd
# on 127.0.0.1:${PORT:-3307} in the background. Stop it with: kill "$(cat "$DIR/pid")".
set -eu
PORT=${PORT:-3307}
DIR=${DIR:-/dev/shm/warden-mariadb-oracle}
if [ -f "$DIR/pid" ] && kill -0 "$(cat "$DIR/pid")" 2>/dev/null; then
  echo "stop the running oracle server first: kill $(cat "$DIR/pid")" >&2
  exit 1
fi
rm -rf "$DIR"
mkdir -p "$DIR"
mariadb-install-db --no-defaults --datadir="$DIR/data" --user="$(id -un)" --auth-root-authentication-method=normal >"$DIR/install.log" 2>&1
nohup mariadbd --no-defaults --datadir="$DIR/data" --user="$(id -un)" --port="$PORT" --bind-address=127.0.0.1 \
  --socket="$DIR/sock" --pid-file="$DIR/pid" --skip-log-bin --max-connections=50 \
  --innodb-flush-log-at-trx-commit=0 --innodb-flush-method=nosync --innodb-doublewrite=0 >"$DIR/server.log" 2>&1 &
i=0
until mariadb -S "$DIR/sock" -uroot -e 'SELECT 1' >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -gt 60 ]; then
    echo "mariadbd did not start; see $DIR/server.log" >&2
    exit 1
  fi
  sleep 0.5
done
mariadb -S "$DIR/sock" -uroot -e "
  CREATE USER warden_oracle@'localhost'; GRANT ALL ON *.* TO warden_oracle@'localhost' WITH GRANT OPTION;
  CREATE USER warden_oracle@'%'; GRANT ALL ON *.* TO warden_oracle@'%' WITH GRANT OPTION;"
echo "oracle server on 127.0.0.1:$PORT (pid $(cat "$DIR/pid")); run: MYSQL_ORACLE_PORT=$PORT npx tsx --conditions=warden-source bench/mysql/corpus.ts <mysql-test/main>"
