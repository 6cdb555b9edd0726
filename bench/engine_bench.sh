#!/usr/bin/env bash
# The engine benchmark: lcd-engine (tools/lcd-engine, the Docker Engine API over libcontainerd)
# side by side with Debian's dockerd (docker.io 20.10) and podman, the same docker CLI (the one
# on PATH, /usr/local/bin/docker v28) talking to both engines, alternating the variants in
# every iteration so that machine drift cancels.
#
#   run       docker run --rm --pull never IMAGE true      (lcd-engine, dockerd; podman run --rm)
#             on the default network (bridge), and the same with --network none
#   ps        docker ps -a with LCD_BENCH_PS_CONTAINERS (100) containers created, not running
#   stats     docker stats --no-stream with LCD_BENCH_STATS_CONTAINERS (20) running busybox sleeps
#   rss       VmRSS of the engine process alone, and of the engine + its containerd, after
#             start-up and after the runs (podman has no daemon: not measured)
#   compose   (issue 18) docker-compose 1.29 (Debian's, LCD_BENCH_COMPOSE) with bench/engine-compose.yml
#             (web: busybox httpd published on 127.0.0.1, api: httpd, worker: sleep, on the
#             project's network): `up -d` (then checked, not timed: 3 containers running) and
#             `down` (containers and network gone), each a sample; lcd-engine and dockerd only
#   sdk       (issue 18) the Docker SDK for Python (/usr/bin/python3 -I, Debian's python3-docker)
#             in bench/engine_sdk.py: create a network, run the same 3 containers detached, wait
#             until running (one sample, timed inside the script); stop and remove them and the
#             network (another); lcd-engine and dockerd only
# podman is not measured in the compose and sdk rows: podman-compose is not installed, and
# podman's Docker-API service is not what this benchmark compares. The compose and SDK projects
# get networks of the run (bridges lcdc{l,d}/lcds{l,d} + 6 hex, free /24s, free loopback ports).
#
# Every engine is private to the run and started by this script: lcd-engine with its own
# --root, socket, managed containerd (ROOT/containerd) and bridge lcd-bench0; dockerd with its
# own --data-root, --exec-root, --pidfile, socket, managed containerd, a bridge made here
# (lcdbd + 6 hex, a free /24) and --iptables=false --ip-masq=false (no DOCKER chains; a --rm
# run needs no NAT); podman with its own --root/--runroot, a containers.conf of the run
# (CONTAINERS_CONF: cgroupfs, events to a file, tmp_dir, runc) and a CNI network of the run
# (bridge lcdbp + 6 hex, a free /24, IPAM data in the run's dir) that is its default network.
# The image is built offline (umoci + skopeo: /bin/busybox of busybox-static in a
# docker-archive) and loaded into each engine; nothing is ever pulled (--pull never).
#
# Peers: when dockerd or podman is missing, this script runs
#   apt-get install -y --no-install-recommends docker.io podman
# with a policy-rc.d that forbids starting services if the machine has none, and stops a
# dockerd the package would still have started. The docker.io package's /usr/bin/docker is not
# used: the CLI is the first docker on PATH (or LCD_BENCH_DOCKER_CLI).
#
# Usage: sudo bench/engine_bench.sh [ITERATIONS]     (default 30; root, after scripts/setup)
#        or through bench/run.sh: LCD_BENCH_ONLY=engine sudo bench/run.sh [ITERATIONS]
# Env:   LCD_BENCH_BUILD   build directory (default <repo>/build-bench): table and JSON lines
#        LCD_BENCH_ENGINE  the lcd-engine binary (default $LCD_BENCH_BUILD/tools/lcd-engine/
#                          lcd-engine, else <repo>/build/tools/lcd-engine/lcd-engine)
#        LCD_BENCH_DOCKER_CLI  the docker CLI (default: the first docker on PATH)
#        LCD_BENCH_PS_CONTAINERS / LCD_BENCH_STATS_CONTAINERS  (default 100 / 20)
#        LCD_BENCH_COMMAND  the command recorded in the JSON lines (bench/run.sh sets it)
#        LCD_BENCH_ENGINE_ONLY  comma list of row groups: cli (run, none, ps, stats, rss; with
#                          podman) and compose (compose and sdk); default cli,compose. Example:
#                          LCD_BENCH_ENGINE_ONLY=compose LCD_BENCH_ONLY=engine sudo bench/run.sh 10
#        LCD_BENCH_COMPOSE  docker-compose (default /usr/bin/docker-compose, Debian's 1.29)
#        LCD_BENCH_PYTHON   the python with the Docker SDK (default /usr/bin/python3)
# Prints a Markdown table (also $LCD_BENCH_BUILD/bench-engine-table.md) and appends one JSON
# line per series (every sample, in ns or kB) to $LCD_BENCH_BUILD/bench-samples.jsonl.
# No traffic leaves the machine. Everything it creates (engines, their containerds, containers,
# mounts, bridges, iptables rules naming its bridges, the temp dir) is removed on exit, on
# failure too.
set -euo pipefail

die() { echo "bench/engine_bench.sh: error: $*" >&2; exit 1; }
note() { echo "bench/engine_bench.sh: $*" >&2; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${LCD_BENCH_BUILD:-$REPO/build-bench}
ITERS=${1:-30}
N_PS=${LCD_BENCH_PS_CONTAINERS:-100}
N_STATS=${LCD_BENCH_STATS_CONTAINERS:-20}
COMMAND=${LCD_BENCH_COMMAND:-bench/engine_bench.sh $ITERS}
[[ $ITERS =~ ^[1-9][0-9]*$ ]] || die "ITERATIONS must be a positive number, got '$ITERS'"
[[ $N_PS =~ ^[1-9][0-9]*$ ]] || die "LCD_BENCH_PS_CONTAINERS must be a positive number, got '$N_PS'"
[[ $N_STATS =~ ^[1-9][0-9]*$ ]] || die "LCD_BENCH_STATS_CONTAINERS must be a positive number, got '$N_STATS'"
DO_CLI='' DO_COMPOSE=''
IFS=, read -ra groups <<<"${LCD_BENCH_ENGINE_ONLY:-cli,compose}"
for g in "${groups[@]}"; do
  case $g in
    cli) DO_CLI=1 ;;
    compose) DO_COMPOSE=1 ;;
    *) die "LCD_BENCH_ENGINE_ONLY: unknown group '$g' (known: cli, compose)" ;;
  esac
done
[[ -n $DO_CLI || -n $DO_COMPOSE ]] || die "LCD_BENCH_ENGINE_ONLY names no group (known: cli, compose)"
COMPOSE=${LCD_BENCH_COMPOSE:-/usr/bin/docker-compose}
PYTHON=${LCD_BENCH_PYTHON:-/usr/bin/python3}
[[ $(id -u) -eq 0 ]] || die "must run as root (containers need it): try 'sudo $0'"
ENGINE=${LCD_BENCH_ENGINE:-}
if [[ -z $ENGINE ]]; then
  ENGINE=$BUILD/tools/lcd-engine/lcd-engine
  [[ -x $ENGINE ]] || ENGINE=$REPO/build/tools/lcd-engine/lcd-engine
fi
[[ -x $ENGINE ]] || die "lcd-engine is not built ($ENGINE): build it (ninja -C $BUILD lcd-engine) or set LCD_BENCH_ENGINE"
DOCKER=${LCD_BENCH_DOCKER_CLI:-$(command -v docker || true)}
[[ -n $DOCKER && -x $DOCKER ]] || die "no docker CLI on PATH (the client of both engines): install it or set LCD_BENCH_DOCKER_CLI"
for tool in containerd runc ip iptables umoci skopeo; do
  command -v "$tool" >/dev/null || die "$tool is not installed: run 'sudo scripts/setup' first"
done
if ! [[ -x /bin/busybox ]] || ! file -L /bin/busybox | grep -q 'statically linked'; then
  die "/bin/busybox is not a static busybox: install busybox-static (scripts/setup)"
fi
[[ -x /usr/lib/cni/bridge ]] || die "the CNI plugins are not in /usr/lib/cni: run 'sudo scripts/setup' (containernetworking-plugins)"
if [[ -n $DO_COMPOSE ]]; then
  [[ -x $COMPOSE ]] || die "no docker-compose at $COMPOSE: install Debian's (apt-get install docker-compose) or set LCD_BENCH_COMPOSE"
  "$PYTHON" -I -c 'import docker' 2>/dev/null || die "$PYTHON has no Docker SDK (import docker failed): install python3-docker or set LCD_BENCH_PYTHON"
fi

note "dockerd processes before the run: $(pgrep -ax dockerd | tr '\n' ';' || true)"

# ---------------------------------------------------------------------------------------------
# The peers (Debian packages), installed when missing; the package's own daemon is not kept.
if ! command -v dockerd >/dev/null || { [[ -n $DO_CLI ]] && ! command -v podman >/dev/null; }; then
  note "installing the peers: apt-get install -y --no-install-recommends docker.io podman"
  before=$(pgrep -x dockerd | sort || true)
  policy=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    policy=1
  fi
  rc=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io podman >"${TMPDIR:-/tmp}/lcd-engine-bench-apt.log" 2>&1 || rc=$?
  [[ -n $policy ]] && rm -f /usr/sbin/policy-rc.d
  ((rc == 0)) || { tail -20 "${TMPDIR:-/tmp}/lcd-engine-bench-apt.log" >&2; die "apt-get install docker.io podman failed (log above)"; }
  for p in $(comm -13 <(echo "$before") <(pgrep -x dockerd | sort || true)); do
    note "the docker.io package started dockerd (pid $p): stopping it"
    kill "$p" 2>/dev/null || true
  done
fi
DOCKERD=$(command -v dockerd)
PODMAN=$(command -v podman || true)

WORK=
ENGINE_PID=
ENGINE_VERSION=
DOCKERD_PID=
DBR=lcdbd$(printf '%06x' $((RANDOM * 32768 + RANDOM)) | tail -c 6)
PBR=lcdbp$(printf '%06x' $((RANDOM * 32768 + RANDOM)) | tail -c 6)
LBR=lcd-bench0
# The compose and SDK projects' networks: bridge names of the run (lcdc = compose, lcds = SDK;
# l = lcd-engine, d = dockerd), subnets and loopback ports chosen when the engines run.
HEX=$(printf '%06x' $((RANDOM * 32768 + RANDOM)) | tail -c 6)
declare -A CBR=([lcd]=lcdcl$HEX [dkd]=lcdcd$HEX) SBR=([lcd]=lcdsl$HEX [dkd]=lcdsd$HEX)
declare -A CSUB=() SSUB=() CPORT=() SPORT=()
PROJECT=lcdbench$HEX
RUN_DOCKER_EXISTED=$(if [[ -e /run/docker ]]; then echo 1; fi)
KEY_EXISTED=$(if [[ -e /etc/docker/key.json ]]; then echo 1; fi)
CNI_EXISTED=$(if [[ -e /var/lib/cni ]]; then echo 1; fi)
SUBNETS=()

# The clients: one docker CLI, two engines; podman with the run's own storage and config.
dk_lcd() { DOCKER_HOST=unix://$WORK/lcd/docker.sock "$DOCKER" "$@"; }
dk_dkd() { DOCKER_HOST=unix://$WORK/docker/docker.sock "$DOCKER" "$@"; }
pm() {
  CONTAINERS_CONF=$WORK/podman/containers.conf "$PODMAN" --root "$WORK/podman/root" \
    --runroot "$WORK/podman/run" --storage-driver overlay "$@"
}

# Processes of this run: the children of PID $1 named $2 (containerd, ...).
children() { pgrep -P "$1" -x "$2" || true; }
# containerd processes whose command line names this run's directory (the engines' own).
our_containerds() { pgrep -f "^(/usr/bin/)?containerd .*$WORK/" || true; }
our_shims() { pgrep -f "containerd-shim.* -address $WORK/" || true; }

stop_pid() { # PID SECONDS: SIGTERM, wait, SIGKILL
  local pid=$1 t=$2 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < t * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  note "warning: pid $pid did not stop in $t s after SIGTERM: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? p m t
  set +e
  trap '' INT TERM
  if [[ -n $WORK ]]; then
    note "cleaning up (engines, containers, mounts, bridges, $WORK)"
    if [[ -n $ENGINE_PID ]] && kill -0 "$ENGINE_PID" 2>/dev/null; then
      mapfile -t ids < <(dk_lcd ps -aq 2>/dev/null)
      ((${#ids[@]})) && dk_lcd rm -f "${ids[@]}" >/dev/null 2>&1
      dk_lcd network prune -f >/dev/null 2>&1 # the compose and SDK networks, if left
      stop_pid "$ENGINE_PID" 30
    fi
    if [[ -n $DOCKERD_PID ]] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
      mapfile -t ids < <(dk_dkd ps -aq 2>/dev/null)
      ((${#ids[@]})) && dk_dkd rm -f "${ids[@]}" >/dev/null 2>&1
      dk_dkd network prune -f >/dev/null 2>&1
      stop_pid "$DOCKERD_PID" 30
    fi
    if [[ -n $PODMAN && -d $WORK/podman/root ]]; then
      timeout 120 pm rm -af -t 0 >/dev/null 2>&1
      timeout 60 pm system reset -f >/dev/null 2>&1
    fi
    for p in $(our_shims) $(our_containerds); do stop_pid "$p" 10; done
    # Everything left mounted under the run's dir (overlay rootfs, shm, the engine's netns dir).
    for _ in 1 2 3; do
      mapfile -t mounts < <(awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r)
      ((${#mounts[@]})) || break
      for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
    done
    rm -rf "$WORK"
  fi
  for b in "$DBR" "$PBR" "$LBR" "${CBR[@]}" "${SBR[@]}"; do ip link show "$b" >/dev/null 2>&1 && ip link del "$b"; done
  # iptables rules that name this run's bridges or subnets (lcd-engine's isolation rules, what
  # a CNI plugin left): deleted one by one.
  local pat="$DBR|$PBR|$LBR|lcdc[ld]$HEX|lcds[ld]$HEX"
  for s in "${SUBNETS[@]}"; do pat+="|${s//./\\.}"; done
  for t in filter nat; do
    iptables -t "$t" -S 2>/dev/null | grep -E -- "^-A .*($pat)" | sed 's/^-A /-D /' |
      while read -r rule; do eval "iptables -w -t $t $rule" 2>/dev/null; done
  done
  [[ -z $RUN_DOCKER_EXISTED && -d /run/docker ]] && rmdir /run/docker/plugins /run/docker 2>/dev/null
  [[ -z $KEY_EXISTED && -e /etc/docker/key.json ]] && rm -f /etc/docker/key.json
  [[ -z $CNI_EXISTED && -d /var/lib/cni ]] && rmdir /var/lib/cni/results /var/lib/cni/networks /var/lib/cni 2>/dev/null
  note "dockerd processes after the run: $(pgrep -ax dockerd | tr '\n' ';' || true)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

WORK=$(mktemp -d /tmp/lcd-engine-bench-XXXXXX)
LOG=$WORK/sample.log
mkdir -p "$WORK/lcd" "$WORK/docker/data" "$WORK/docker/exec" "$WORK/podman/root" \
  "$WORK/podman/run" "$WORK/podman/tmp" "$WORK/podman/net" "$WORK/podman/ipam"

# A free /24 in 172.30.0.0/16 (no address or route of the machine in it).
free_subnet() {
  local x used
  used=$( { ip -4 -o addr; ip -4 route; } | grep -o '172\.30\.[0-9]*\.' | sort -u || true)
  for x in $(shuf -i 0-255); do
    grep -qxF "172.30.$x." <<<"$used" && continue
    [[ " ${SUBNETS[*]} " == *" 172.30.$x.0/24 "* ]] && continue
    echo "172.30.$x.0/24"
    return 0
  done
  die "no free /24 in 172.30.0.0/16"
}
ip link show "$LBR" >/dev/null 2>&1 && die "the bridge $LBR exists already: is another engine benchmark running? (else: ip link del $LBR)"

# ---------------------------------------------------------------------------------------------
# The image: /bin/busybox (static) in a docker-archive, built offline.
# shellcheck source=bench/lib/busybox_archive.sh
source "$REPO/bench/lib/busybox_archive.sh"
IMG=docker.io/lcdbench/busybox:latest
ARCHIVE=$WORK/busybox.tar
busybox_archive "$WORK" "$ARCHIVE" "$IMG" >"$WORK/image.log" 2>&1 || { cat "$WORK/image.log" >&2; die "building the busybox image failed (log above)"; }

# ---------------------------------------------------------------------------------------------
# The engines.
wait_engine() { # NAME PID CLIENT-FUNCTION LOGFILE
  local deadline=$(($(date +%s) + 60))
  until "$3" version >/dev/null 2>&1; do
    kill -0 "$2" 2>/dev/null || { tail -20 "$4" >&2; die "$1 exited at start-up (log above: $4)"; }
    (($(date +%s) < deadline)) || { tail -20 "$4" >&2; die "$1 did not answer within 60 s (log: $4)"; }
    sleep 0.1
  done
}

# A copy of the binary: a rebuild during the run (shared build dirs) must not change what runs.
cp "$ENGINE" "$WORK/lcd-engine"
ENGINE_VERSION="$("$WORK/lcd-engine" --version) ($ENGINE, built $(date -u -r "$ENGINE" '+%F %T UTC'))"
"$WORK/lcd-engine" --root "$WORK/lcd" -H "unix://$WORK/lcd/docker.sock" --bridge "$LBR" \
  >"$WORK/lcd-engine.log" 2>&1 &
ENGINE_PID=$!

DSUB=$(free_subnet)
SUBNETS+=("$DSUB")
ip link add "$DBR" type bridge
ip addr add "${DSUB%.0/24}.1/24" dev "$DBR"
ip link set "$DBR" up
# The trust key goes to the run's dir (dockerd 20.10 writes /etc/docker/key.json otherwise).
printf '{ "deprecated-key-path": "%s" }\n' "$WORK/docker/key.json" >"$WORK/docker/daemon.json"
"$DOCKERD" --config-file "$WORK/docker/daemon.json" --data-root "$WORK/docker/data" \
  --exec-root "$WORK/docker/exec" --pidfile "$WORK/docker/dockerd.pid" \
  -H "unix://$WORK/docker/docker.sock" --bridge "$DBR" --iptables=false --ip-masq=false \
  >"$WORK/dockerd.log" 2>&1 &
DOCKERD_PID=$!

PSUB=$(free_subnet)
SUBNETS+=("$PSUB")
NOFILE=$(ulimit -Hn)
((NOFILE > 1024)) && NOFILE=1024
# podman raises nofile/nproc to 1048576 by default: without CAP_SYS_RESOURCE (as in this
# project's sandbox) runc cannot; fixed, small limits instead.
cat >"$WORK/podman/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$NOFILE:$NOFILE", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$WORK/podman/events.log"
runtime = "runc"
tmp_dir = "$WORK/podman/tmp"
[network]
network_backend = "cni"
network_config_dir = "$WORK/podman/net"
cni_plugin_dirs = ["/usr/lib/cni"]
default_network = "lcdbench"
EOF
# podman's own default conflist (87-podman-bridge), with the run's bridge, subnet and IPAM dir.
cat >"$WORK/podman/net/lcdbench.conflist" <<EOF
{ "cniVersion": "0.4.0", "name": "lcdbench", "plugins": [
  { "type": "bridge", "bridge": "$PBR", "isGateway": true, "ipMasq": true, "hairpinMode": true,
    "ipam": { "type": "host-local", "dataDir": "$WORK/podman/ipam", "routes": [{ "dst": "0.0.0.0/0" }],
              "ranges": [[{ "subnet": "$PSUB", "gateway": "${PSUB%.0/24}.1" }]] } },
  { "type": "portmap", "capabilities": { "portMappings": true } },
  { "type": "firewall" },
  { "type": "tuning" } ] }
EOF

wait_engine lcd-engine "$ENGINE_PID" dk_lcd "$WORK/lcd-engine.log"
wait_engine dockerd "$DOCKERD_PID" dk_dkd "$WORK/dockerd.log"

# RSS (kB) of the engine alone and of the engine + its containerd.
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
engine_containerd() { # lcd-engine's managed containerd: its config is under ROOT/containerd
  pgrep -f "^(/usr/bin/)?containerd .*$WORK/lcd/" | head -1 || true
}
dockerd_containerd() { children "$DOCKERD_PID" containerd | head -1; }
declare -A RSS=()
measure_rss() { # WHEN
  local lc dc
  lc=$(engine_containerd)
  dc=$(dockerd_containerd)
  [[ -n $lc ]] || die "lcd-engine's containerd (under $WORK/lcd) not found"
  [[ -n $dc ]] || die "dockerd's containerd (a child of pid $DOCKERD_PID) not found"
  RSS[$1/lcd]=$(rss "$ENGINE_PID")
  RSS[$1/lcd+ctd]=$((RSS[$1/lcd] + $(rss "$lc")))
  RSS[$1/dkd]=$(rss "$DOCKERD_PID")
  RSS[$1/dkd+ctd]=$((RSS[$1/dkd] + $(rss "$dc")))
}
sleep 5 # let both settle after start-up
measure_rss startup

# The image, into each engine.
dk_lcd load -i "$ARCHIVE" >"$LOG" 2>&1 || { cat "$LOG" >&2; die "docker load into lcd-engine failed"; }
dk_dkd load -i "$ARCHIVE" >"$LOG" 2>&1 || { cat "$LOG" >&2; die "docker load into dockerd failed"; }
if [[ -n $DO_CLI ]]; then
  pm load -i "$ARCHIVE" >"$LOG" 2>&1 || { cat "$LOG" >&2; die "podman load failed"; }
fi

# ---------------------------------------------------------------------------------------------
# Samples.
declare -A SAMPLES=()
declare -A WHAT=()
ORDER=()
series() { ORDER+=("$1"); WHAT[$1]=$2; SAMPLES[$1]=; }
timed() { # KEY CMD...
  local key=$1 t0 t1
  shift
  t0=$(date +%s%N)
  "$@" >"$LOG" 2>&1 || { cat "$LOG" >&2; die "sample of $key failed: $*"; }
  t1=$(date +%s%N)
  SAMPLES[$key]+=" $((t1 - t0))"
}
VARIANTS=(lcd dkd pod)
declare -A NAME=([lcd]=lcd-engine [dkd]=dockerd [pod]=podman)
client() { case $1 in lcd) echo dk_lcd ;; dkd) echo dk_dkd ;; pod) echo pm ;; esac; }
order() { # ITERATION: the variants, reversed every other iteration
  if (($1 % 2)); then echo lcd dkd pod; else echo pod dkd lcd; fi
}

if [[ -n $DO_CLI ]]; then
  series run/lcd "docker run --rm --pull never IMAGE true (default network: lcd-engine's bridge $LBR, CNI)"
  series run/dkd "docker run --rm --pull never IMAGE true (default network: dockerd's bridge, libnetwork)"
  series run/pod "podman run --rm --pull never IMAGE true (default network: CNI bridge, podman's own chain)"
  series none/lcd "docker run --rm --pull never --network none IMAGE true"
  series none/dkd "docker run --rm --pull never --network none IMAGE true"
  series none/pod "podman run --rm --pull never --network none IMAGE true"
  series ps/lcd "docker ps -a, $N_PS containers created (not running)"
  series ps/dkd "docker ps -a, $N_PS containers created (not running)"
  series ps/pod "podman ps -a, $N_PS containers created (not running)"
  series stats/lcd "docker stats --no-stream, $N_STATS running containers (busybox sleep)"
  series stats/dkd "docker stats --no-stream, $N_STATS running containers (busybox sleep)"
  series stats/pod "podman stats --no-stream, $N_STATS running containers (busybox sleep)"

  # Phase 1: run --rm, default network and none.
  note "run --rm: $ITERS iterations (lcd-engine bridge $LBR; dockerd bridge $DBR $DSUB; podman bridge $PBR $PSUB)"
  for v in "${VARIANTS[@]}"; do # warm-up, not counted
    timed "run/$v" "$(client "$v")" run --rm --pull never "$IMG" true
    timed "none/$v" "$(client "$v")" run --rm --pull never --network none "$IMG" true
  done
  for v in "${VARIANTS[@]}"; do SAMPLES[run/$v]=; SAMPLES[none/$v]=; done
  for ((i = 1; i <= ITERS; i++)); do
    for v in $(order "$i"); do timed "run/$v" "$(client "$v")" run --rm --pull never "$IMG" true; done
    for v in $(order $((i + 1))); do timed "none/$v" "$(client "$v")" run --rm --pull never --network none "$IMG" true; done
  done

  # Phase 2: ps -a with N_PS created containers on each engine.
  note "ps -a: creating $N_PS containers on each engine"
  for v in "${VARIANTS[@]}"; do
    c=$(client "$v")
    for ((k = 0; k < N_PS; k++)); do
      "$c" create --pull never "$IMG" true >"$LOG" 2>&1 || { cat "$LOG" >&2; die "${NAME[$v]}: create $k failed"; }
    done
    n=$("$c" ps -aq | wc -l)
    ((n == N_PS)) || die "${NAME[$v]}: ps -a lists $n containers, $N_PS expected"
  done
  for v in "${VARIANTS[@]}"; do "$(client "$v")" ps -a >/dev/null; done # warm-up
  note "ps -a: $ITERS iterations"
  for ((i = 1; i <= ITERS; i++)); do
    for v in $(order "$i"); do timed "ps/$v" "$(client "$v")" ps -a; done
  done
  for v in "${VARIANTS[@]}"; do
    c=$(client "$v")
    mapfile -t ids < <("$c" ps -aq)
    "$c" rm "${ids[@]}" >"$LOG" 2>&1 || { cat "$LOG" >&2; die "${NAME[$v]}: removing the created containers failed"; }
  done

  # Phase 3: stats --no-stream with N_STATS running containers on each engine.
  note "stats --no-stream: starting $N_STATS containers (sleep) on each engine"
  for v in "${VARIANTS[@]}"; do
    c=$(client "$v")
    for ((k = 0; k < N_STATS; k++)); do
      "$c" run -d --pull never "$IMG" sleep 3600 >"$LOG" 2>&1 || { cat "$LOG" >&2; die "${NAME[$v]}: run -d $k failed"; }
    done
    n=$("$c" ps -q | wc -l)
    ((n == N_STATS)) || die "${NAME[$v]}: ps lists $n running containers, $N_STATS expected"
    lines=$("$c" stats --no-stream | tail -n +2 | wc -l)
    ((lines == N_STATS)) || die "${NAME[$v]}: stats --no-stream printed $lines rows, $N_STATS expected"
  done
  note "stats --no-stream: $ITERS iterations"
  for ((i = 1; i <= ITERS; i++)); do
    for v in $(order "$i"); do timed "stats/$v" "$(client "$v")" stats --no-stream; done
  done
  for v in "${VARIANTS[@]}"; do
    c=$(client "$v")
    mapfile -t ids < <("$c" ps -aq)
    "$c" rm -f "${ids[@]}" >"$LOG" 2>&1 || { cat "$LOG" >&2; die "${NAME[$v]}: removing the running containers failed"; }
  done

  sleep 5 # idle again
  measure_rss after
fi

# Phase 4 (issue 18): docker-compose and the Docker SDK for Python, lcd-engine and dockerd.
if [[ -n $DO_COMPOSE ]]; then
  sock() { case $1 in lcd) echo "$WORK/lcd/docker.sock" ;; dkd) echo "$WORK/docker/docker.sock" ;; esac; }
  order2() { if (($1 % 2)); then echo lcd dkd; else echo dkd lcd; fi; }
  free_port() { # a TCP port nobody listens on, on any address
    local p
    for p in $(shuf -i 20000-40000 -n 200); do
      ss -Htln "sport = :$p" | grep -q . && continue
      [[ " ${CPORT[*]} ${SPORT[*]} " == *" $p "* ]] && continue
      echo "$p"
      return 0
    done
    die "no free TCP port in 20000-40000"
  }
  for v in lcd dkd; do
    CSUB[$v]=$(free_subnet); SUBNETS+=("${CSUB[$v]}")
    SSUB[$v]=$(free_subnet); SUBNETS+=("${SSUB[$v]}")
    CPORT[$v]=$(free_port)
    SPORT[$v]=$(free_port)
  done
  compose() { # VARIANT ARGS...: docker-compose on the engine of VARIANT, the bench's project
    local v=$1
    shift
    DOCKER_HOST=unix://$(sock "$v") BENCH_IMAGE=$IMG BENCH_WEB_PORT=${CPORT[$v]} \
      BENCH_BRIDGE=${CBR[$v]} BENCH_SUBNET=${CSUB[$v]} \
      "$COMPOSE" --ansi never -p "$PROJECT" -f "$REPO/bench/engine-compose.yml" "$@"
  }
  # Checks after each sample (not timed).
  check_up() { # VARIANT
    local c n
    c=$(client "$1")
    ! grep -qi pull "$LOG" || { cat "$LOG" >&2; die "${NAME[$1]}: docker-compose up pulled (the image must come from docker load)"; }
    n=$("$c" ps -q --filter "label=com.docker.compose.project=$PROJECT" --filter status=running | wc -l)
    ((n == 3)) || { "$c" ps -a >&2; die "${NAME[$1]}: $n containers of the compose project running right after up -d, 3 expected"; }
  }
  check_down() { # VARIANT
    local c n
    c=$(client "$1")
    n=$("$c" ps -aq --filter "label=com.docker.compose.project=$PROJECT" | wc -l)
    ((n == 0)) || die "${NAME[$1]}: $n containers of the compose project left after down"
    n=$("$c" network ls -q --filter "label=com.docker.compose.project=$PROJECT" | wc -l)
    ((n == 0)) || die "${NAME[$1]}: the compose project's network is left after down"
  }
  check_web() { # VARIANT PORT: the published port answers on 127.0.0.1 (once, after warm-up)
    local i
    for i in $(seq 50); do
      wget -q -T 2 -O /dev/null "http://127.0.0.1:$2/etc/passwd" 2>/dev/null && return 0
      sleep 0.1
    done
    die "${NAME[$1]}: the published port 127.0.0.1:$2 of the web service did not answer"
  }
  sdk() { # VARIANT: one SDK sample; appends to sdk_up/VARIANT and sdk_down/VARIANT
    local out up down
    out=$("$PYTHON" -I "$REPO/bench/engine_sdk.py" "$(sock "$1")" "$IMG" "${PROJECT}sdk" \
      "${SBR[$1]}" "${SSUB[$1]}" "${SPORT[$1]}" 2>"$LOG") || { cat "$LOG" >&2; die "${NAME[$1]}: the SDK sample failed"; }
    read -r up down <<<"$out"
    [[ $up =~ ^[0-9]+$ && $down =~ ^[0-9]+$ ]] || die "${NAME[$1]}: the SDK script printed '$out', not 'UP_NS DOWN_NS'"
    SAMPLES[sdk_up/$1]+=" $up"
    SAMPLES[sdk_down/$1]+=" $down"
    grep '^steps ' "$LOG" >>"$WORK/sdk-steps-$1.log" || true # each call's time, for the report
  }
  series compose_up/lcd "docker-compose up -d: network + 3 busybox services (one published port), all running"
  series compose_up/dkd "docker-compose up -d: network + 3 busybox services (one published port), all running"
  series compose_down/lcd "docker-compose down: stop and remove the 3 containers and the network"
  series compose_down/dkd "docker-compose down: stop and remove the 3 containers and the network"
  series sdk_up/lcd "Docker SDK for Python: client, networks.create, 3 x containers.run(detach) (one published port), poll until running"
  series sdk_up/dkd "Docker SDK for Python: client, networks.create, 3 x containers.run(detach) (one published port), poll until running"
  series sdk_down/lcd "Docker SDK for Python: 3 x stop + remove, network remove"
  series sdk_down/dkd "Docker SDK for Python: 3 x stop + remove, network remove"

  note "docker-compose and SDK: project $PROJECT; lcd-engine ${CBR[lcd]} ${CSUB[lcd]} port ${CPORT[lcd]}, SDK ${SBR[lcd]} ${SSUB[lcd]} port ${SPORT[lcd]}; dockerd ${CBR[dkd]} ${CSUB[dkd]} port ${CPORT[dkd]}, SDK ${SBR[dkd]} ${SSUB[dkd]} port ${SPORT[dkd]}"
  for v in lcd dkd; do # warm-up, not counted; the published port is checked once here
    timed "compose_up/$v" compose "$v" up -d
    check_up "$v"
    check_web "$v" "${CPORT[$v]}"
    timed "compose_down/$v" compose "$v" down
    check_down "$v"
    sdk "$v"
  done
  for k in compose_up compose_down sdk_up sdk_down; do SAMPLES[$k/lcd]=; SAMPLES[$k/dkd]=; done
  rm -f "$WORK"/sdk-steps-*.log
  # docker-compose's own start-up, no engine contacted: the floor under every compose sample.
  COMPOSE_START=
  note "docker-compose up -d / down and SDK: $ITERS iterations"
  for ((i = 1; i <= ITERS; i++)); do
    for v in $(order2 "$i"); do
      timed "compose_up/$v" compose "$v" up -d
      check_up "$v"
      timed "compose_down/$v" compose "$v" down
      check_down "$v"
    done
    for v in $(order2 $((i + 1))); do sdk "$v"; done
    t0=$(date +%s%N)
    "$COMPOSE" version >/dev/null 2>&1 || die "docker-compose version failed"
    COMPOSE_START+=" $(($(date +%s%N) - t0))"
  done
fi

# ---------------------------------------------------------------------------------------------
# Report: medians, p90 (rank ceil(0.9 n), as lcd_bench), ratios of medians lcd-engine / peers.
stats() { # samples... -> "n median p90"
  printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 }
    END { n = NR; m = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
          r = int(0.9 * n); if (r < 0.9 * n) r++; if (r < 1) r = 1
          printf "%d %.0f %.0f\n", n, m, a[r] }'
}
fmt() { awk -v v="$1" 'BEGIN { if (v >= 1e9) printf "%.2f s", v / 1e9; else printf "%.1f ms", v / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r <= t) ? "met" : "missed" }'; }
declare -A TARGET=([run]=0.5 [ps]=0.5 [stats]=0.25 [compose_up]=0.5 [compose_down]=0.5 [sdk_up]=0.5 [sdk_down]=0.5)
declare -A MEDIAN=()
TABLE=$BUILD/bench-engine-table.md
JSONL=$BUILD/bench-samples.jsonl
mkdir -p "$BUILD"
{
  echo "| benchmark | variant | n | median | p90 | lcd-engine / peer (medians) | target vs dockerd | what one sample is |"
  echo "| --- | --- | ---: | ---: | ---: | --- | --- | --- |"
  for key in "${ORDER[@]}"; do
    # shellcheck disable=SC2086 # the samples are a space-separated list of numbers
    read -r _ MEDIAN[$key] _ < <(stats ${SAMPLES[$key]})
  done
  for key in "${ORDER[@]}"; do
    bench=${key%%/*} v=${key#*/}
    # shellcheck disable=SC2086
    read -r n med p90 < <(stats ${SAMPLES[$key]})
    r='' target=''
    if [[ $v == lcd ]]; then
      r="$(ratio "$med" "${MEDIAN[$bench/dkd]}")x dockerd"
      if [[ -n ${MEDIAN[$bench/pod]:-} ]]; then
        r+=", $(ratio "$med" "${MEDIAN[$bench/pod]}")x podman"
      else
        r+=" (podman: not measured)"
      fi
      t=${TARGET[$bench]:-}
      [[ -n $t ]] && target="<= ${t}x: $(verdict "$(ratio "$med" "${MEDIAN[$bench/dkd]}")" "$t")"
    fi
    echo "| engine_$bench | ${NAME[$v]} | $n | $(fmt "$med") | $(fmt "$p90") | $r | $target | ${WHAT[$key]} |"
  done
  if [[ -n $DO_COMPOSE ]]; then
    # shellcheck disable=SC2086
    read -r n med p90 < <(stats $COMPOSE_START)
    echo
    echo "docker-compose's own start-up (\`docker-compose version\`, no engine contacted; in every compose sample): median $(fmt "$med"), p90 $(fmt "$p90") (n $n). podman: not measured in the compose and sdk rows (podman-compose is not installed)."
    for v in lcd dkd; do
      echo
      echo "SDK steps through ${NAME[$v]} (medians): $("$PYTHON" -I "$REPO/bench/engine_sdk.py" --steps "$WORK/sdk-steps-$v.log")"
    done
  fi
  if [[ -n $DO_CLI ]]; then
    echo
    echo "| idle RSS | lcd-engine | dockerd | lcd-engine / dockerd | target |"
    echo "| --- | ---: | ---: | --- | --- |"
    for when in startup after; do
      label=$([[ $when == startup ]] && echo "after start-up" || echo "after the runs")
      a=${RSS[$when/lcd]} b=${RSS[$when/dkd]}
      echo "| engine process alone, $label | $((a / 1024)) MiB ($a kB) | $((b / 1024)) MiB ($b kB) | $(ratio "$a" "$b")x | <= 0.25x: $(verdict "$(ratio "$a" "$b")" 0.25) |"
      a=${RSS[$when/lcd+ctd]} b=${RSS[$when/dkd+ctd]}
      echo "| engine + its containerd, $label | $((a / 1024)) MiB ($a kB) | $((b / 1024)) MiB ($b kB) | $(ratio "$a" "$b")x | |"
    done
  fi
} | tee "$TABLE"
{
  for key in "${ORDER[@]}"; do
    # shellcheck disable=SC2086
    read -r n med p90 < <(stats ${SAMPLES[$key]})
    samples=$(tr -s ' ' '\n' <<<"${SAMPLES[$key]}" | sed '/^$/d' | paste -sd, -)
    peer=true
    [[ ${key#*/} == lcd ]] && peer=false
    printf '{"bench":"engine_%s","variant":"%s","unit":"ns","what":"%s","peer":%s,"n":%s,"samples":[%s],"median":%s,"p90":%s,"command":"%s"}\n' \
      "${key%%/*}" "${NAME[${key#*/}]}" "${WHAT[$key]}" "$peer" "$n" "$samples" "$med" "$p90" "$COMMAND"
  done
  if [[ -n $DO_COMPOSE ]]; then
    # shellcheck disable=SC2086
    read -r n med p90 < <(stats $COMPOSE_START)
    samples=$(tr -s ' ' '\n' <<<"$COMPOSE_START" | sed '/^$/d' | paste -sd, -)
    printf '{"bench":"engine_compose_start","variant":"docker-compose version","unit":"ns","what":"docker-compose version (no engine contacted)","peer":true,"n":%s,"samples":[%s],"median":%s,"p90":%s,"command":"%s"}\n' \
      "$n" "$samples" "$med" "$p90" "$COMMAND"
  fi
  if [[ -n $DO_CLI ]]; then
    for k in "${!RSS[@]}"; do
      printf '{"bench":"engine_rss","variant":"%s","unit":"kB","value":%s,"command":"%s"}\n' "$k" "${RSS[$k]}" "$COMMAND"
    done
  fi
} >>"$JSONL"
echo
echo "lcd-engine: $ENGINE_VERSION"
echo "dockerd: $("$DOCKERD" --version); containerd: $(containerd --version); podman: $([[ -n $PODMAN ]] && "$PODMAN" --version || echo 'not installed')"
if [[ -n $DO_COMPOSE ]]; then
  echo "docker-compose: $("$COMPOSE" version --short); Docker SDK for Python: $("$PYTHON" -I -c 'import docker; print(docker.__version__)') ($PYTHON)"
fi
echo "docker CLI: $DOCKER $("$DOCKER" version --format '{{.Client.Version}}' 2>/dev/null || true)"
echo "wrote $TABLE; samples appended to $JSONL"
