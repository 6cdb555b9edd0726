#!/usr/bin/env bash
# The engine's load run (issue 18, docs/reliability.md): one private lcd-engine (its own root,
# socket, managed containerd and bridge) and CLIENTS docker CLI loops for SECONDS, each doing in
# turn: run --rm, exec in a long-running container of its own, logs of it, stats --no-stream of
# it, ps -a. Counts the requests served and the errors, and reads the engine's RSS and open fds
# at the start and at the end (after the clients stopped). Everything is removed at the end.
#
# Usage: sudo bench/engine_load.sh [SECONDS] [CLIENTS]      (default 300 and 4)
# Env:   LCD_BENCH_ENGINE  the lcd-engine binary (default <repo>/build/tools/lcd-engine/lcd-engine)
# Traffic: the engine's unix socket and its containers only.
set -euo pipefail
die() { echo "bench/engine_load.sh: error: $*" >&2; exit 1; }
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_WANTED=${1:-300}
CLIENTS=${2:-4}
ENGINE=${LCD_BENCH_ENGINE:-$REPO/build/tools/lcd-engine/lcd-engine}
[[ $(id -u) -eq 0 ]] || die "must run as root: try 'sudo $0'"
[[ -x $ENGINE ]] || die "no lcd-engine at $ENGINE: build it (cmake --build build) or set LCD_BENCH_ENGINE"
for tool in docker umoci skopeo; do command -v $tool >/dev/null || die "$tool is not installed: run scripts/setup"; done

WORK=$(mktemp -d /tmp/lcdload.XXXXXX)
BRIDGE=lcdload$((RANDOM % 1000))
export DOCKER_HOST=unix://$WORK/docker.sock DOCKER_CONFIG=$WORK/cli
ENGINE_PID=
cleanup() {
  set +e
  if [[ -n $ENGINE_PID ]] && kill -0 "$ENGINE_PID" 2>/dev/null; then
    docker rm -f $(docker ps -aq) >/dev/null 2>&1
    kill -TERM "$ENGINE_PID"
    for _ in $(seq 1 300); do kill -0 "$ENGINE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$ENGINE_PID" 2>/dev/null
  fi
  # The engine's containerd goes with it (the Supervisor stops it); what is mounted under the
  # work directory (the namespaces' directory, snapshots) is undone before it is removed.
  for m in $(awk -v d="$WORK" '$5 ~ "^"d {print $5}' /proc/self/mountinfo | sort -r); do umount -l "$m"; done
  ip link del "$BRIDGE" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=bench/lib/busybox_archive.sh
source "$REPO/bench/lib/busybox_archive.sh"
IMG=docker.io/lcdload/busybox:latest
busybox_archive "$WORK" "$WORK/busybox.tar" "$IMG" >"$WORK/image.log" 2>&1 || { cat "$WORK/image.log" >&2; die "building the image failed"; }

"$ENGINE" --root "$WORK/root" -H "unix://$WORK/docker.sock" --bridge "$BRIDGE" >"$WORK/engine.log" 2>&1 &
ENGINE_PID=$!
for _ in $(seq 1 300); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
docker version >/dev/null || { cat "$WORK/engine.log" >&2; die "the engine did not start"; }
docker load -q -i "$WORK/busybox.tar" >/dev/null
probe() { echo "$(awk '/^VmRSS:/ {print $2}' /proc/$ENGINE_PID/status) kB, $(ls /proc/$ENGINE_PID/fd | wc -l) fds, $(awk '/^Threads:/ {print $2}' /proc/$ENGINE_PID/status) threads"; }
START_PROBE=$(probe)

client() { # N: one client's loop; prints "ok errors"
  local n=$1 ok=0 err=0 idle=load-idle-$n end=$((SECONDS + SECONDS_WANTED))
  docker run -d --name "$idle" "$IMG" sh -c 'while true; do echo tick; sleep 1; done' >/dev/null
  while ((SECONDS < end)); do
    for cmd in "run --rm --pull never $IMG true" "exec $idle echo hi" "logs --tail 5 $idle" \
               "stats --no-stream $idle" "ps -a"; do
      # shellcheck disable=SC2086
      if docker $cmd >/dev/null 2>>"$WORK/client-$n.err"; then ok=$((ok + 1)); else err=$((err + 1)); fi
    done
  done
  docker rm -f "$idle" >/dev/null 2>&1 || err=$((err + 1))
  echo "$ok $err"
}
for n in $(seq 1 "$CLIENTS"); do client "$n" >"$WORK/client-$n.out" & done
wait $(jobs -p | grep -v "^$ENGINE_PID$") 2>/dev/null || true
sleep 2
END_PROBE=$(probe)
ok=0; err=0
for n in $(seq 1 "$CLIENTS"); do read -r a b <"$WORK/client-$n.out"; ok=$((ok + a)); err=$((err + b)); done
echo "| load run | value |"
echo "| --- | --- |"
echo "| clients x seconds | $CLIENTS x $SECONDS_WANTED |"
echo "| docker commands served | $ok |"
echo "| errors | $err |"
echo "| engine at start | $START_PROBE |"
echo "| engine at end | $END_PROBE |"
if ((err > 0)); then echo; echo "first errors:"; cat "$WORK"/client-*.err | head -5; fi
