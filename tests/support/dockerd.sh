#!/usr/bin/env bash
# Start a Docker engine for the tests when none answers, and stop only the one we started.
#   tests/support/dockerd.sh start   # no-op if `docker version` already reaches an engine
#   tests/support/dockerd.sh stop    # stops the engine only if `start` launched it
# The engine runs with the vfs storage driver and no iptables/bridge, which works as root
# inside containers and VMs alike; its data lives under $LAYERSCAN_DOCKERD_STATE.
set -euo pipefail
state=${LAYERSCAN_DOCKERD_STATE:-/tmp/layerscan-dockerd}
pidfile=$state/started-by-layerscan.pid

engine_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

case "${1:-}" in
start)
  if engine_answers; then
    echo "dockerd.sh: an engine already answers; using it"
    exit 0
  fi
  if ! command -v dockerd >/dev/null; then
    echo "dockerd.sh: dockerd is not installed (apt-get install -y docker.io)" >&2
    exit 1
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "dockerd.sh: starting dockerd needs root" >&2
    exit 1
  fi
  mkdir -p "$state"
  dockerd --storage-driver=vfs --iptables=false --bridge=none \
    --data-root "$state/root" --exec-root "$state/exec" --pidfile "$state/dockerd.pid" \
    >"$state/dockerd.log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 60); do
    if engine_answers; then
      echo "dockerd.sh: started dockerd (pid $(cat "$pidfile"), log $state/dockerd.log)"
      exit 0
    fi
    sleep 1
  done
  echo "dockerd.sh: dockerd did not answer within 60 s; last log lines:" >&2
  tail -n 20 "$state/dockerd.log" >&2 || true
  exit 1
  ;;
stop)
  if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    rm -f "$pidfile"
    echo "dockerd.sh: stopped the dockerd it started"
  fi
  ;;
*)
  echo "usage: $0 start|stop" >&2
  exit 2
  ;;
esac
