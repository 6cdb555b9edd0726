#!/usr/bin/env bash
# The direct backend's benchmark (issue 19): the daemonless backend (NewDirectClient, one
# lcd-monitor per container) side by side with runc alone, the containerd backend, ctr and
# podman, alternating the variants in every iteration (their order reversed every other one) so
# that machine drift cancels. Rows (LCD_BENCH_DIRECT_ONLY picks some; each runs alone):
#
#   lifecycle  /bin/true from a busybox rootfs directory, stdio /dev/null, no network:
#     direct          the library's direct backend: NewContainer, NewTask, Start, Wait, task
#                     Delete, container Delete (bench/direct_bench lifecycle; timed inside the
#                     process, so neither process start-up nor client creation is in it)
#     direct_lcctl    lcctl --backend direct --root WORK/lcctl-direct run --rm --rootfs ...
#                     (when lcctl has --backend; its state goes to ROOT/direct)
#     runc            runc run on a bundle whose config.json is the library's DefaultSpec for
#                     /bin/true (what both backends give runc): the floor
#     runc_split      the same with the runtime calls a monitor makes: runc create, runc start,
#                     (the init's exit), runc delete: the floor of a create/start design
#     containerd_api  the same lifecycle through the containerd backend (direct_bench
#                     --backend containerd; timed inside the process like `direct`)
#     lcctl           lcctl run --rm --rootfs ... (containerd backend)
#     ctr             ctr run --rm --rootfs ... (stdio through ctr's FIFOs, to /dev/null)
#     podman          podman run --rm --network none --rootfs ... (Debian's podman with conmon
#                     and runc, cgroupfs, its own --root/--runroot, vfs storage, events to a file;
#                     --ulimit nofile=1024:1024 (and nproc): without CAP_SYS_RESOURCE runc cannot
#                     raise them to podman's defaults); not measured when podman is not installed
#   exec       /bin/true in one running `sleep` container of the direct backend: the API's Exec
#              (stdio /dev/null, Wait, Delete) vs `runc exec` of the same container, alternating
#              inside bench/direct_bench exec
#   rss        one idle container (`sleep`) each: its lcd-monitor vs its containerd-shim-runc-v2
#              vs its conmon: VmRSS and Pss (smaps_rollup), after LCD_BENCH_DIRECT_SETTLE_MS
#
# Usage: sudo bench/direct_bench.sh [ITERATIONS]     (default 20; root, after scripts/setup)
# Env:   LCD_BENCH_BUILD    build directory (default <repo>/build-bench, Release): direct_bench,
#                           lcd-monitor and lcctl are taken (and built, unless LCD_BENCH_NO_BUILD)
#                           there; the table and the JSON lines go there too
#        LCD_BENCH_NO_BUILD=1   use the binaries already built
#        LCD_BENCH_ROOTFS   busybox rootfs directory (default /var/lib/libcontainerd/rootfs/busybox,
#                           else <build>/rootfs/busybox)
#        LCD_BENCH_DIRECT_ONLY      comma list of rows: lifecycle, exec, rss (default all)
#        LCD_BENCH_DIRECT_VARIANTS  comma list of lifecycle variants (default all of them)
#        LCD_BENCH_ADDRESS  a containerd socket to use (default: a private containerd started
#                           here by `lcctl --root WORK/ctd daemon start`, stopped at the end)
#        LCD_BENCH_DIRECT_SETTLE_MS  wait before an RSS is read (default 2000)
#        LCD_BENCH_COMMAND  the command recorded in the JSON lines
# A variant that cannot run here (a binary missing or failing on its first, warm-up run) is
# reported as "not measured" with the reason, and the others go on.
# Prints a Markdown table (also $LCD_BENCH_BUILD/bench-direct-table.md) and appends one JSON
# line per series (every sample, ns or kB) to $LCD_BENCH_BUILD/bench-samples.jsonl.
# Everything it creates (containers, monitors, the private containerd, podman's state, the
# temp dir) is removed on exit, on failure too. No network is used.
set -euo pipefail

die() { echo "bench/direct_bench.sh: error: $*" >&2; exit 1; }
note() { echo "bench/direct_bench.sh: $*" >&2; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${LCD_BENCH_BUILD:-$REPO/build-bench}
ITERS=${1:-20}
SETTLE_MS=${LCD_BENCH_DIRECT_SETTLE_MS:-2000}
COMMAND=${LCD_BENCH_COMMAND:-bench/direct_bench.sh $ITERS}
[[ $ITERS =~ ^[1-9][0-9]*$ ]] || die "ITERATIONS must be a positive number, got '$ITERS'"
[[ $SETTLE_MS =~ ^[0-9]+$ ]] || die "LCD_BENCH_DIRECT_SETTLE_MS must be a number, got '$SETTLE_MS'"
[[ $(id -u) -eq 0 ]] || die "must run as root (containers need it): try 'sudo $0'"
ALL_ROWS=lifecycle,exec,rss
ALL_VARIANTS=direct,direct_lcctl,runc,runc_split,containerd_api,lcctl,ctr,podman
declare -A ROW=() WANT=()
IFS=, read -ra rows <<<"${LCD_BENCH_DIRECT_ONLY:-$ALL_ROWS}"
for r in "${rows[@]}"; do
  [[ ,$ALL_ROWS, == *",$r,"* ]] || die "LCD_BENCH_DIRECT_ONLY: unknown row '$r' (known: $ALL_ROWS)"
  ROW[$r]=1
done
IFS=, read -ra vs <<<"${LCD_BENCH_DIRECT_VARIANTS:-$ALL_VARIANTS}"
for v in "${vs[@]}"; do
  [[ ,$ALL_VARIANTS, == *",$v,"* ]] || die "LCD_BENCH_DIRECT_VARIANTS: unknown variant '$v' (known: $ALL_VARIANTS)"
  WANT[$v]=1
done
for tool in runc containerd; do
  command -v "$tool" >/dev/null || die "$tool is not installed: run 'sudo scripts/setup' first"
done

# ---------------------------------------------------------------------------------------------
# Binaries.
if [[ -z ${LCD_BENCH_NO_BUILD:-} ]]; then
  if [[ ! -f $BUILD/CMakeCache.txt ]]; then
    cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CXX_FLAGS=-Wno-error=restrict >/dev/null
  fi
  for t in direct_bench lcd-monitor lcctl; do
    ninja -C "$BUILD" -j2 "$t" >/dev/null 2>&1 || note "building $t failed (see: ninja -C $BUILD $t): its rows are not measured"
  done
fi
DBENCH=$BUILD/bench/direct_bench
MONITOR=$BUILD/tools/lcd-monitor/lcd-monitor
LCCTL=$BUILD/tools/lcctl/lcctl
[[ -x $DBENCH ]] || DBENCH=
[[ -x $MONITOR ]] || MONITOR=
[[ -x $LCCTL ]] || LCCTL=
ROOTFS=${LCD_BENCH_ROOTFS:-/var/lib/libcontainerd/rootfs/busybox}
[[ -d $ROOTFS ]] || ROOTFS=$BUILD/rootfs/busybox
[[ -x $ROOTFS/bin/true || -L $ROOTFS/bin/true ]] || die "no busybox rootfs at $ROOTFS (set LCD_BENCH_ROOTFS)"
ROOTFS=$(realpath "$ROOTFS") # runc refuses a root.path through a symlink
PODMAN=$(command -v podman || true)
if [[ -z $PODMAN && ( -n ${WANT[podman]:-} && -n ${ROW[lifecycle]:-} || -n ${ROW[rss]:-} ) ]]; then
  # Not installed here: a benchmark sends no traffic but to loopback and its own containers.
  note "podman is not installed (apt-get install podman conmon to measure it): its rows are not measured"
fi
CTR=$(command -v ctr || true)

# ---------------------------------------------------------------------------------------------
# The run's directory and clean-up.
WORK=$(mktemp -d /tmp/lcddb.XXXXXX)
chmod 0711 "$WORK"
NS=lcdbench-direct
DIRECT_ROOT=$WORK/direct
RUNC_ROOT=$WORK/runc
CTD_ROOT=$WORK/ctd
ADDRESS=${LCD_BENCH_ADDRESS:-}
OWN_CONTAINERD=
LOG=$WORK/cmd.log
mkdir -p "$DIRECT_ROOT" "$RUNC_ROOT" "$WORK/bundle/rootfs" "$WORK/podman/root" "$WORK/podman/run" "$WORK/podman/tmp" "$WORK/bin"

pm() {
  "$PODMAN" --root "$WORK/podman/root" --runroot "$WORK/podman/run" --tmpdir "$WORK/podman/tmp" \
    --storage-driver vfs --cgroup-manager cgroupfs --events-backend file --runtime runc "$@"
}
ctr_() { "$CTR" -a "$ADDRESS" -n "$NS" "$@"; }
lcctl_() { "$LCCTL" -a "$ADDRESS" -n "$NS" "$@"; }

cleanup() {
  set +e
  # Direct-backend monitors of this run (their state is under WORK only).
  local f pid id
  for f in "$DIRECT_ROOT"/*/*/task/monitor.pid "$WORK"/lcctl-direct/direct/*/*/task/monitor.pid; do
    [[ -f $f ]] || continue
    pid=$(cat "$f")
    [[ $pid =~ ^[0-9]+$ ]] && grep -qs "$WORK" "/proc/$pid/cmdline" && kill -KILL "$pid"
  done
  for id in $(runc --root "$RUNC_ROOT" list -q 2>/dev/null); do runc --root "$RUNC_ROOT" delete -f "$id"; done
  for d in "$DIRECT_ROOT"/runtime/* "$WORK"/lcctl-direct/direct/runtime/*; do
    [[ -d $d ]] || continue
    for id in $(runc --root "$d" list -q 2>/dev/null); do runc --root "$d" delete -f "$id"; done
  done
  if [[ -n $PODMAN ]]; then pm rm -fa >/dev/null 2>&1; fi
  if [[ -n $ADDRESS && -n $CTR ]]; then
    for id in $(ctr_ task ls -q 2>/dev/null); do ctr_ task kill -s KILL "$id"; ctr_ task rm -f "$id"; done >/dev/null 2>&1
    for id in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers rm "$id"; done >/dev/null 2>&1
  fi
  if [[ -n $OWN_CONTAINERD ]]; then "$LCCTL" --root "$CTD_ROOT" daemon stop >/dev/null 2>&1; fi
  # The empty parent cgroups runc made for this run's cgroupsPath (/lcdbench-direct/<id>).
  rmdir /sys/fs/cgroup/*/"$NS" /sys/fs/cgroup/"$NS" 2>/dev/null
  # Mounts podman or the runtime may have left under WORK, deepest first.
  grep -F " $WORK/" /proc/self/mounts | awk '{ print $2 }' | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Snapshot the binaries (and the library they load) into the run's directory, so that a rebuild
# of a shared build tree during the run cannot replace or truncate them under it.
snap() { [[ -n $1 ]] || return 0; cp "$1" "$WORK/bin/" && echo "$WORK/bin/${1##*/}"; }
LIB=$( { ldd "${DBENCH:-/bin/true}"; ldd "${LCCTL:-/bin/true}"; } 2>/dev/null | awk '/libcontainerd-cxx/ && !n++ { print $3 }')
if [[ -n $LIB ]]; then
  cp -L "$LIB" "$WORK/bin/${LIB##*/}"
  export LD_LIBRARY_PATH=$WORK/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} # before their RUNPATH
fi
DBENCH=$(snap "$DBENCH")
MONITOR=$(snap "$MONITOR")
LCCTL=$(snap "$LCCTL")
export LCD_MONITOR=$MONITOR

# ---------------------------------------------------------------------------------------------
# Samples.
declare -A SAMPLES=() WHAT=() SKIP=() UNIT=()
ORDER=()
series() { ORDER+=("$1"); WHAT[$1]=$2; SAMPLES[$1]=; UNIT[$1]=${3:-ns}; }
skip() {
  SKIP[$1]=$2
  note "$1: not measured: $2"
  local v=${1#lifecycle/} st # a lifecycle variant's steps go with it
  if [[ $1 == lifecycle/* && -n ${STEPS:-} ]]; then
    for st in $STEPS; do [[ -n ${WHAT[lifecycle_step/${v}_$st]:-} ]] && SKIP[lifecycle_step/${v}_$st]=$2; done
  fi
  return 0
}
# KEY CMD...: one sample, timed by the shell (process start-up included).
timed() {
  local key=$1 t0 t1
  shift
  t0=$(date +%s%N)
  "$@" </dev/null >"$LOG" 2>&1 || { cat "$LOG" >&2; die "sample of $key failed: $*"; }
  t1=$(date +%s%N)
  SAMPLES[$key]+=" $((t1 - t0))"
}
# KEY NAME CMD...: the samples named NAME that the command prints ("NAME VALUE" lines).
printed() {
  local key=$1 name=$2
  shift 2
  "$@" </dev/null >"$LOG" 2>"$LOG.err" || { cat "$LOG.err" >&2; die "sample of $key failed: $*"; }
  SAMPLES[$key]+=" $(awk -v n="$name" '$1 == n { printf "%s ", $2 }' "$LOG")"
}
# KEY CMD...: the variant's warm-up run; on failure the variant is skipped with its error.
warm() {
  local key=$1
  shift
  if ! "$@" </dev/null >"$LOG" 2>&1; then
    skip "$key" "its first run failed: $(tail -c 300 "$LOG" | tr '\n' ' ')"
    return 1
  fi
}

# The containerd daemon for the containerd-side variants.
need_containerd() {
  [[ -n $ADDRESS ]] && return 0
  [[ -n $LCCTL ]] || return 1
  "$LCCTL" --root "$CTD_ROOT" daemon start >"$LOG" 2>&1 || { cat "$LOG" >&2; return 1; }
  OWN_CONTAINERD=1
  ADDRESS=$CTD_ROOT/containerd.sock
  [[ -S $ADDRESS ]] || ADDRESS=$(grep -o '/[^ ]*containerd\.sock' "$LOG" | head -1)
  [[ -S $ADDRESS ]] || die "lcctl started a containerd under $CTD_ROOT but its socket is not found (log: $(cat "$LOG"))"
}

# The runc bundle: the library's DefaultSpec for /bin/true (direct_bench bundle), else runc's own
# `runc spec` with root.path and args set.
make_bundle() {
  if [[ -n $DBENCH ]] && "$DBENCH" bundle --rootfs "$ROOTFS" --out "$WORK/bundle" --id dbrunc -- /bin/true 2>"$LOG"; then
    BUNDLE_FROM="the library's DefaultSpec (direct_bench bundle)"
  else
    (cd "$WORK/bundle" && runc spec) || die "runc spec failed"
    python3 - "$WORK/bundle/config.json" "$ROOTFS" <<'EOF' || die "cannot edit the runc spec"
import json, sys
p, rootfs = sys.argv[1], sys.argv[2]
c = json.load(open(p))
c["root"] = {"path": rootfs, "readonly": True}
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
json.dump(c, open(p, "w"))
EOF
    BUNDLE_FROM="runc spec (direct_bench missing), root.path and args set"
  fi
}

# runc's create/start/delete of one /bin/true container, as a monitor drives it.
runc_split() { # ID
  local pid st
  runc --root "$RUNC_ROOT" create --bundle "$WORK/bundle" --pid-file "$WORK/split.pid" "$1" || return 1
  pid=$(<"$WORK/split.pid")
  runc --root "$RUNC_ROOT" start "$1" || return 1
  # The init exits at once; it is reparented, so it is gone or a zombie once it has exited.
  while [[ -r /proc/$pid/stat ]] && read -r _ _ st _ <"/proc/$pid/stat" 2>/dev/null && [[ $st != Z ]]; do
    sleep 0.001
  done
  runc --root "$RUNC_ROOT" delete "$1"
}

LC_VARIANTS=()
declare -A RUN=()
has_backend_flag() { [[ -n $LCCTL ]] && "$LCCTL" --help 2>&1 | grep -q -- '--backend'; }

if [[ -n ${ROW[lifecycle]:-} ]]; then
  series lifecycle/direct "direct backend API lifecycle of /bin/true (NewContainer, NewTask, Start, Wait, Delete x2; in-process, start-up excluded)"
  series lifecycle/direct_lcctl "lcctl --backend direct run --rm --rootfs ROOTFS ID /bin/true"
  series lifecycle/runc "runc run --bundle B ID (/bin/true; no daemon, no monitor: the floor)"
  series lifecycle/runc_split "runc create --bundle B --pid-file F ID, runc start ID, wait for the exit, runc delete ID"
  series lifecycle/containerd_api "containerd backend API lifecycle of /bin/true (same code as direct; in-process, start-up excluded)"
  series lifecycle/lcctl "lcctl run --rm --rootfs ROOTFS ID /bin/true (containerd backend)"
  series lifecycle/ctr "ctr run --rm --rootfs ROOTFS ID /bin/true"
  series lifecycle/podman "podman run --rm --network none --ulimit nofile=1024:1024 --rootfs ROOTFS /bin/true (conmon, runc, cgroupfs)"
  STEPS="new_container new_task start wait delete_task delete_container"
  for v in direct containerd_api; do
    for st in $STEPS; do series "lifecycle_step/${v}_$st" "wall time of the $v API lifecycle's step $st"; done
  done
  make_bundle
  NPROC=$(ulimit -Hu)
  [[ $NPROC == unlimited || $NPROC -gt 4096 ]] && NPROC=4096
  # Each variant's command (evaluated per sample, $ID a fresh container id) and how its sample
  # is taken: timed by the shell, or printed by direct_bench ("lifecycle NS").
  declare -A HOW=([direct]=printed [containerd_api]=printed)
  RUN[direct]='"$DBENCH" lifecycle --rootfs "$ROOTFS" --root "$DIRECT_ROOT" --ns "$NS" --iters 1'
  RUN[direct_lcctl]='"$LCCTL" --backend direct --root "$WORK/lcctl-direct" -n "$NS" run --rm --rootfs "$ROOTFS" "$ID" /bin/true'
  RUN[runc]='runc --root "$RUNC_ROOT" run --bundle "$WORK/bundle" "$ID"'
  RUN[runc_split]='runc_split "$ID"'
  RUN[containerd_api]='"$DBENCH" lifecycle --backend containerd --address "$ADDRESS" --root "$WORK/capi" --ns "$NS" --rootfs "$ROOTFS" --iters 1'
  RUN[lcctl]='lcctl_ run --rm --rootfs "$ROOTFS" "$ID" /bin/true'
  RUN[ctr]='ctr_ run --rm --rootfs "$ROOTFS" "$ID" /bin/true'
  RUN[podman]='pm run --rm --network none --ulimit nofile=1024:1024 --ulimit "nproc=$NPROC:$NPROC" --rootfs "$ROOTFS" /bin/true'
  sample() { # VARIANT
    ID=db$$-$1-$((++SEQ))
    if [[ ${HOW[$1]:-timed} == printed ]]; then
      eval "printed lifecycle/$1 lifecycle ${RUN[$1]}"
      for st in $STEPS; do
        SAMPLES[lifecycle_step/$1_$st]+=" $(awk -v n="step_$st" '$1 == n { printf "%s ", $2 }' "$LOG")"
      done
    else
      eval "timed lifecycle/$1 ${RUN[$1]}"
    fi
  }
  SEQ=0
  for v in ${ALL_VARIANTS//,/ }; do
    key=lifecycle/$v
    if [[ -z ${WANT[$v]:-} ]]; then skip "$key" "not selected (LCD_BENCH_DIRECT_VARIANTS)"; continue; fi
    case $v in
      direct) [[ -n $DBENCH && -n $MONITOR ]] || { skip "$key" "direct_bench or lcd-monitor not built"; continue; } ;;
      direct_lcctl) has_backend_flag || { skip "$key" "this lcctl has no --backend flag"; continue; } ;;
      containerd_api) [[ -n $DBENCH ]] || { skip "$key" "direct_bench not built"; continue; }
        need_containerd || { skip "$key" "no containerd (lcctl not built, LCD_BENCH_ADDRESS unset)"; continue; } ;;
      lcctl) [[ -n $LCCTL ]] || { skip "$key" "lcctl not built"; continue; }
        need_containerd || { skip "$key" "no containerd"; continue; } ;;
      ctr) [[ -n $CTR ]] || { skip "$key" "ctr not installed"; continue; }
        need_containerd || { skip "$key" "no containerd"; continue; } ;;
      podman) [[ -n $PODMAN ]] || { skip "$key" "podman not installed (apt-get install podman)"; continue; } ;;
    esac
    # The warm-up run: not counted; a failure skips the variant.
    # shellcheck disable=SC2034 # used by the evaluated command
    ID=db$$-$v-warm
    eval "warm $key ${RUN[$v]}" || continue
    SAMPLES[$key]=
    LC_VARIANTS+=("$v")
  done
  note "lifecycle: $ITERS iterations of: ${LC_VARIANTS[*]:-nothing}"
  for ((i = 1; i <= ITERS; i++)); do
    if ((i % 2)); then list=("${LC_VARIANTS[@]}"); else list=(); for ((k = ${#LC_VARIANTS[@]} - 1; k >= 0; k--)); do list+=("${LC_VARIANTS[k]}"); done; fi
    for v in "${list[@]}"; do sample "$v"; done
  done
fi

if [[ -n ${ROW[exec]:-} ]]; then
  series exec/direct "direct backend API Exec of /bin/true in a running container (stdio /dev/null), Wait, Delete"
  series exec/runc "runc --root R exec ID /bin/true on the same container (stdio /dev/null)"
  if [[ -z $DBENCH || -z $MONITOR ]]; then
    skip exec/direct "direct_bench or lcd-monitor not built"
    skip exec/runc "runs inside direct_bench (not built)"
  else
    note "exec: $ITERS iterations (direct_bench exec alternates API and runc exec)"
    if "$DBENCH" exec --rootfs "$ROOTFS" --root "$DIRECT_ROOT" --ns "$NS" --iters "$ITERS" </dev/null >"$LOG" 2>"$LOG.err"; then
      SAMPLES[exec/direct]=" $(awk '$1 == "exec_api" { printf "%s ", $2 }' "$LOG")"
      SAMPLES[exec/runc]=" $(awk '$1 == "exec_runc" { printf "%s ", $2 }' "$LOG")"
    else
      skip exec/direct "direct_bench exec failed: $(tail -c 300 "$LOG.err" | tr '\n' ' ')"
      skip exec/runc "direct_bench exec failed"
    fi
  fi
fi

# VmRSS and Pss (kB) of a pid.
rss_of() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
pss_of() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null; }
settle() { sleep "$(awk -v ms="$SETTLE_MS" 'BEGIN { printf "%.3f", ms / 1000 }')"; }
if [[ -n ${ROW[rss]:-} ]]; then
  RSS_N=3
  for who in monitor shim conmon; do
    series "rss/$who" "" kB
    series "pss/$who" "" kB
  done
  WHAT[rss/monitor]="VmRSS of lcd-monitor with one idle container (sleep)"
  WHAT[pss/monitor]="Pss of lcd-monitor (smaps_rollup: shared pages divided among their users)"
  WHAT[rss/shim]="VmRSS of containerd-shim-runc-v2 with one idle container (ctr run -d sleep)"
  WHAT[pss/shim]="Pss of containerd-shim-runc-v2"
  WHAT[rss/conmon]="VmRSS of conmon with one idle container (podman run -d sleep)"
  WHAT[pss/conmon]="Pss of conmon"
  note "rss: $RSS_N samples of each (settle ${SETTLE_MS} ms)"
  for ((i = 1; i <= RSS_N; i++)); do
    # lcd-monitor.
    if [[ -n $DBENCH && -n $MONITOR && -z ${SKIP[rss/monitor]:-} ]]; then
      if "$DBENCH" rss --rootfs "$ROOTFS" --root "$DIRECT_ROOT" --ns "$NS" --settle-ms "$SETTLE_MS" </dev/null >"$LOG" 2>"$LOG.err"; then
        SAMPLES[rss/monitor]+=" $(awk '$1 == "rss_kb" { print $2 }' "$LOG")"
        SAMPLES[pss/monitor]+=" $(awk '$1 == "pss_kb" { print $2 }' "$LOG")"
      else
        skip rss/monitor "direct_bench rss failed: $(tail -c 300 "$LOG.err" | tr '\n' ' ')"; skip pss/monitor "direct_bench rss failed"
      fi
    elif [[ -z ${SKIP[rss/monitor]:-} ]]; then
      skip rss/monitor "direct_bench or lcd-monitor not built"; skip pss/monitor "direct_bench or lcd-monitor not built"
    fi
    # containerd-shim-runc-v2: the parent of the task's init.
    if [[ -z ${SKIP[rss/shim]:-} ]]; then
      if [[ -n $CTR ]] && need_containerd; then
        id=db$$-shim-$i
        if ctr_ run -d --null-io --rootfs "$ROOTFS" "$id" /bin/sleep 100000 </dev/null >"$LOG" 2>&1; then
          settle
          tpid=$(ctr_ task ls | awk -v id="$id" '$1 == id { print $2 }')
          spid=$(awk '{ print $4 }' "/proc/$tpid/stat" 2>/dev/null || true)
          if [[ -n $spid ]] && grep -qs containerd-shim "/proc/$spid/cmdline"; then
            SAMPLES[rss/shim]+=" $(rss_of "$spid")"
            SAMPLES[pss/shim]+=" $(pss_of "$spid")"
          else
            skip rss/shim "the shim of task $id (init pid ${tpid:-?}) was not found"; skip pss/shim "shim not found"
          fi
          { ctr_ task kill -s KILL "$id"; sleep 0.2; ctr_ task rm -f "$id"; ctr_ containers rm "$id"; } >/dev/null 2>&1 || true
        else
          skip rss/shim "ctr run -d failed: $(tail -c 300 "$LOG" | tr '\n' ' ')"; skip pss/shim "ctr run -d failed"
        fi
      else
        skip rss/shim "no ctr or no containerd"; skip pss/shim "no ctr or no containerd"
      fi
    fi
    # conmon.
    if [[ -z ${SKIP[rss/conmon]:-} ]]; then
      if [[ -n $PODMAN ]]; then
        NPROC=$(ulimit -Hu)
        [[ $NPROC == unlimited || $NPROC -gt 4096 ]] && NPROC=4096
        if cid=$(pm run -d --network none --ulimit nofile=1024:1024 --ulimit "nproc=$NPROC:$NPROC" --rootfs "$ROOTFS" sleep 100000 </dev/null 2>"$LOG"); then
          settle
          cpid=$(pm inspect --format '{{.State.ConmonPid}}' "$cid" 2>/dev/null || true)
          if [[ $cpid =~ ^[1-9][0-9]*$ ]]; then
            SAMPLES[rss/conmon]+=" $(rss_of "$cpid")"
            SAMPLES[pss/conmon]+=" $(pss_of "$cpid")"
          else
            skip rss/conmon "conmon pid of $cid not found"; skip pss/conmon "conmon not found"
          fi
          pm rm -f "$cid" >/dev/null 2>&1 || true
        else
          skip rss/conmon "podman run -d failed: $(tail -c 300 "$LOG" | tr '\n' ' ')"; skip pss/conmon "podman run -d failed"
        fi
      else
        skip rss/conmon "podman not installed"; skip pss/conmon "podman not installed"
      fi
    fi
  done
fi

# ---------------------------------------------------------------------------------------------
# Report: medians, p90 (rank ceil(0.9 n), as lcd_bench), ratios of medians direct / peers.
stats() { # samples... -> "n median p90"
  printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 }
    END { n = NR; m = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
          r = int(0.9 * n); if (r < 0.9 * n) r++; if (r < 1) r = 1
          printf "%d %.0f %.0f\n", n, m, a[r] }'
}
fmt() { # VALUE UNIT
  if [[ $2 == kB ]]; then awk -v v="$1" 'BEGIN { if (v >= 1024) printf "%.1f MB", v / 1024; else printf "%d kB", v }'
  else awk -v v="$1" 'BEGIN { if (v >= 1e9) printf "%.2f s", v / 1e9; else printf "%.1f ms", v / 1e6 }'; fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r <= t) ? "met" : "missed" }'; }
declare -A MEDIAN=() P90=() N=()
for key in "${ORDER[@]}"; do
  if [[ -z ${SKIP[$key]:-} && -n ${SAMPLES[$key]// /} ]]; then
    # shellcheck disable=SC2086 # the samples are a space-separated list of numbers
    read -r N[$key] MEDIAN[$key] P90[$key] < <(stats ${SAMPLES[$key]})
  fi
done
# The direct variant of a key's row and the peers it is compared with.
peers() { case $1 in lifecycle/direct) echo lifecycle/runc lifecycle/runc_split lifecycle/containerd_api lifecycle/lcctl lifecycle/ctr lifecycle/podman ;;
  lifecycle/direct_lcctl) echo lifecycle/runc lifecycle/runc_split lifecycle/lcctl lifecycle/ctr lifecycle/podman ;;
  lifecycle_step/direct_*) echo "lifecycle_step/containerd_api_${1#lifecycle_step/direct_}" ;;
  exec/direct) echo exec/runc ;; rss/monitor) echo rss/shim rss/conmon ;; pss/monitor) echo pss/shim pss/conmon ;; esac; }
target() { # KEY -> "text|met/missed" for the issue's targets
  case $1 in
    lifecycle/direct) [[ -n ${MEDIAN[lifecycle/runc]:-} ]] && echo "<= 1.15x runc: $(verdict "$(ratio "${MEDIAN[$1]}" "${MEDIAN[lifecycle/runc]}")" 1.15)" ;;
    exec/direct) [[ -n ${MEDIAN[exec/runc]:-} ]] && echo "<= 1.2x runc exec: $(verdict "$(ratio "${MEDIAN[$1]}" "${MEDIAN[exec/runc]}")" 1.2)" ;;
    rss/monitor) echo "<= 1 MB: $(awk -v v="${MEDIAN[$1]}" 'BEGIN { print (v <= 1024) ? "met" : "missed" }')$([[ -n ${MEDIAN[rss/shim]:-} ]] && echo ", <= 0.1x shim: $(verdict "$(ratio "${MEDIAN[$1]}" "${MEDIAN[rss/shim]}")" 0.1)")" ;;
  esac
}
TABLE=$BUILD/bench-direct-table.md
JSONL=$BUILD/bench-samples.jsonl
mkdir -p "$BUILD"
{
  echo "| benchmark | variant | n | median | p90 | direct / peer (medians) | target | what one sample is |"
  echo "| --- | --- | ---: | ---: | ---: | --- | --- | --- |"
  for key in "${ORDER[@]}"; do
    bench=${key%%/*} variant=${key#*/}
    if [[ -z ${MEDIAN[$key]:-} ]]; then
      echo "| $bench | $variant | 0 | - | - | | | not measured: ${SKIP[$key]:-no samples} |"
      continue
    fi
    r=
    for p in $(peers "$key"); do
      [[ -n ${MEDIAN[$p]:-} ]] && r+="${r:+, }$(ratio "${MEDIAN[$key]}" "${MEDIAN[$p]}")x ${p#*/}"
    done
    echo "| $bench | $variant | ${N[$key]} | $(fmt "${MEDIAN[$key]}" "${UNIT[$key]}") | $(fmt "${P90[$key]}" "${UNIT[$key]}") | $r | $(target "$key" || true) | ${WHAT[$key]} |"
  done
} | tee "$TABLE"
for key in "${ORDER[@]}"; do
  [[ -n ${MEDIAN[$key]:-} ]] || continue
  s=$(echo ${SAMPLES[$key]} | tr ' ' ',')
  peer=true
  [[ ${key#*/} == direct* || ${key#*/} == monitor ]] && peer=false
  printf '{"bench":"direct_%s","variant":"%s","unit":"%s","what":"%s","peer":%s,"n":%s,"samples":[%s],"median":%s,"p90":%s,"command":"%s"}\n' \
    "${key%%/*}" "${key#*/}" "${UNIT[$key]}" "${WHAT[$key]//\"/\\\"}" "$peer" "${N[$key]}" "$s" "${MEDIAN[$key]}" "${P90[$key]}" "$COMMAND" >>"$JSONL"
done
echo
echo "runc bundle: ${BUNDLE_FROM:-not made}; rootfs: $ROOTFS; containerd: ${ADDRESS:-none}$([[ -n $OWN_CONTAINERD ]] && echo ' (private, started by this run)')"
echo "versions: $(runc --version | head -1); $(containerd --version); $([[ -n $PODMAN ]] && "$PODMAN" --version || echo 'podman not installed'); $([[ -n $PODMAN ]] && conmon --version 2>/dev/null | head -1)"
echo "machine: $(nproc) CPUs, kernel $(uname -r); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "table: $TABLE; samples appended to $JSONL"
