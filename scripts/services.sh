#!/usr/bin/env bash
# Make sure the services the project needs answer on 127.0.0.1, starting or installing them if not.
#   scripts/services.sh redis                         Redis only (make run)
#   scripts/services.sh mysql redis nginx chromium    MariaDB, Redis, nginx, Chromium (make test)
# nginx is only installed: the deployment test starts it itself, with its own config and ports.
# chromium is only installed, with a CJK font: the admin's browser tests (tests/browser) drive it.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

log() { echo "[services] $*" >&2; }

apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    log "cannot install $* here (no apt-get): install it yourself and start it on 127.0.0.1"
    exit 1
  fi
  log "installing $* from Debian's packages"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

wait_for() {  # wait_for NAME COMMAND...
  local name=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  log "$name did not come up"
  return 1
}

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

ensure_redis() {
  command -v redis-cli >/dev/null 2>&1 && redis_up && return 0
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server redis-tools
  redis_up && return 0
  log "starting redis-server on 127.0.0.1:6379"
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  wait_for redis redis_up
}

mysql_up() { mysqladmin --protocol=tcp -h 127.0.0.1 -P 3306 -uroot ping 2>/dev/null | grep -q alive; }

ensure_mysql() {
  command -v mysqladmin >/dev/null 2>&1 && mysql_up && return 0
  [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server
  mysql_up && return 0
  log "starting MariaDB on 127.0.0.1:3306"
  $SUDO mkdir -p /run/mysqld
  $SUDO chown mysql:mysql /run/mysqld 2>/dev/null || true
  $SUDO start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_for mariadb mysql_up
}

ensure_nginx() {
  [ -x /usr/sbin/nginx ] && return 0
  apt_install nginx
  # Debian's package may start a system nginx on port 80; the tests need none.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
    $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
  elif [ -f /run/nginx.pid ]; then
    $SUDO /usr/sbin/nginx -s quit 2>/dev/null || true
  fi
}

ensure_chromium() {
  # Without a CJK font the admin's Chinese renders as boxes in the browser and its screenshots.
  local missing=()
  for package in chromium fonts-wqy-microhei; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

for service in "$@"; do
  case "$service" in
    redis) ensure_redis ;;
    mysql) ensure_mysql ;;
    nginx) ensure_nginx ;;
    chromium) ensure_chromium ;;
    *) log "unknown service $service"; exit 2 ;;
  esac
done
