#!/usr/bin/env bash
# CTest fixture: starts / stops a private containerd for the integration tier.
# Usage: containerd-fixture.sh start|stop ROOT
# Everything (config, socket, root, state, log, runc root) lives under ROOT.
set -euo pipefail
cmd=$1; root=$2
sock=$root/containerd.sock
pidf=$root/containerd.pid
case $cmd in
start)
  command -v containerd >/dev/null || { echo "containerd not installed: run scripts/setup" >&2; exit 1; }
  if [[ -f $pidf ]] && kill -0 "$(cat "$pidf")" 2>/dev/null; then "$0" stop "$root"; fi
  mkdir -p "$root" && chmod 700 "$root"
  cat > "$root/config.toml" <<TOML
version = 2
root = "$root/root"
state = "$root/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$sock"
  max_recv_message_size = 16777216
  max_send_message_size = 16777216
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  address = "$root/debug.sock"
  level = "info"
TOML
  setsid containerd --config "$root/config.toml" >"$root/containerd.log" 2>&1 < /dev/null &
  echo $! > "$pidf"
  for _ in $(seq 100); do
    if ctr --address "$sock" version >/dev/null 2>&1; then echo "containerd serving on $sock"; exit 0; fi
    sleep 0.1
  done
  echo "containerd did not come up; last log lines:" >&2; tail -20 "$root/containerd.log" >&2; exit 1
  ;;
stop)
  # Kill what tests left running, then the daemon, then its shims.
  if [[ -S $sock ]]; then
    for ns in $(ctr --address "$sock" namespaces ls -q 2>/dev/null); do
      for t in $(ctr --address "$sock" -n "$ns" tasks ls -q 2>/dev/null); do
        ctr --address "$sock" -n "$ns" tasks kill -a -s SIGKILL "$t" >/dev/null 2>&1 || true
      done
    done
  fi
  if [[ -f $pidf ]]; then
    pid=$(cat "$pidf")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  pkill -KILL -f -- "-address $sock" 2>/dev/null || true
  umount -R "$root/state" 2>/dev/null || true
  rm -rf "$root"
  echo "containerd stopped, $root removed"
  ;;
*) echo "usage: $0 start|stop ROOT" >&2; exit 2;;
esac
