#!/usr/bin/env bash
# The networking benchmark (issue 16): what a network adds to a container's lifecycle, through
# lcctl (and so net::Manager and the CNI plugins), on one private containerd, alternating the
# variants in every iteration so that machine drift cancels.
#
#   base       lcctl run --rm ID /bin/true                      (no --net: the runtime's netns, lo)
#   none       lcctl run --rm --net none ID /bin/true           (the library's netns, lo, DNS files)
#   bridge     lcctl run --rm --net bridge ID /bin/true         (CNI ADD/DEL: bridge, host-local, ...)
#   bridge_p   lcctl run --rm --net bridge -p HOSTPORT:80 ID /bin/true   (+ portmap)
#
# Every variant runs the built-in busybox image (imported once, warm, as the images benchmark's
# lifecycle). The default network "bridge" lives in this run's own --net-config-dir, with a
# bridge of its own (lcdb + 6 hex) and a free /24 chosen by the library, so nothing of the
# machine's or other users' networks is touched. podman is not installed on this machine: its
# bridge network is not measured.
#
# Then where the bridge's time goes: LCD_BENCH_TRACE_RUNS (default 5) runs of bridge_p with
# each CNI plugin call timed by a wrapper, and one run under strace that counts the iptables/nft
# processes each plugin starts (see the end of this script).
#
# Usage: sudo bench/net_bench.sh [ITERATIONS]      (default 30; root, after scripts/setup)
#        or through bench/run.sh: LCD_BENCH_ONLY=net sudo bench/run.sh [ITERATIONS]
# Env:   LCD_BENCH_BUILD  build directory with lcctl and lcd_bench (default <repo>/build-bench;
#                         standalone, this script does not build)
#        LCD_BENCH_ROOT   private daemon root (default /run/lcdbench); started with lcd_bench
#                         daemon-start when it is not running, and then stopped at the end
#        LCD_BENCH_KEEP_DAEMON=1  the daemon is the caller's (bench/run.sh): never stop it
#        LCD_BENCH_TRACE_RUNS  runs with timed plugin wrappers for the breakdown (default 5; 0:
#                         no breakdown)
#        LCD_BENCH_COMMAND  the command recorded in the JSON lines (bench/run.sh sets it)
# Prints a Markdown table (also $LCD_BENCH_BUILD/bench-net-table.md), the breakdown, and
# appends one JSON line per series (every sample, in ns) to $LCD_BENCH_BUILD/bench-samples.jsonl.
# No traffic is sent anywhere. Everything it creates (temp dir, namespace, network, bridge,
# the daemon if it started it) is removed on exit, on failure too.
set -euo pipefail

die() { echo "bench/net_bench.sh: error: $*" >&2; exit 1; }
note() { echo "bench/net_bench.sh: $*" >&2; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${LCD_BENCH_BUILD:-$REPO/build-bench}
ROOT=$(realpath -m "${LCD_BENCH_ROOT:-/run/lcdbench}")
ITERS=${1:-30}
TRACE_RUNS=${LCD_BENCH_TRACE_RUNS:-5}
COMMAND=${LCD_BENCH_COMMAND:-bench/net_bench.sh $ITERS}
[[ $ITERS =~ ^[1-9][0-9]*$ ]] || die "ITERATIONS must be a positive number, got '$ITERS'"
[[ $TRACE_RUNS =~ ^[0-9]+$ ]] || die "LCD_BENCH_TRACE_RUNS must be a number, got '$TRACE_RUNS'"
[[ $(id -u) -eq 0 ]] || die "must run as root (containers need it): try 'sudo $0'"
for tool in ctr runc containerd ip strace iptables; do
  command -v "$tool" >/dev/null || die "$tool is not installed: run 'sudo scripts/setup' first"
done
[[ -x /usr/lib/cni/bridge ]] || die "the CNI plugins are not in /usr/lib/cni: run 'sudo scripts/setup' (containernetworking-plugins)"
LCCTL=$BUILD/tools/lcctl/lcctl
BENCH=$BUILD/bench/lcd_bench
[[ -x $LCCTL ]] || die "$LCCTL is not built: run 'ninja -C $BUILD lcctl' (or bench/run.sh)"
[[ -x $BENCH ]] || die "$BENCH is not built: run 'ninja -C $BUILD lcd_bench' (or bench/run.sh)"

SOCK=$ROOT/containerd.sock
NS=lcdbench-net-$$
BRIDGE=lcdb$(printf '%06x' $((RANDOM * 32768 + RANDOM)) | tail -c 6)
WORK=
STARTED_DAEMON=
ctr_() { ctr -a "$SOCK" "$@"; }
lcctl_() { "$LCCTL" -a "$SOCK" -n "$NS" --root "$WORK/root" --net-config-dir "$WORK/netconf" "$@"; }

cleanup() {
  local rc=$? x
  set +e
  if [[ -n $WORK && -S $SOCK ]]; then
    for x in $(lcctl_ container ls -q 2>/dev/null); do lcctl_ container rm -f "$x" >/dev/null 2>&1; done
    lcctl_ network rm bridge >/dev/null 2>&1
    local -a imgs
    mapfile -t imgs < <(lcctl_ image ls -q 2>/dev/null)
    if ((${#imgs[@]})); then lcctl_ image rm -f --sync "${imgs[@]}" >/dev/null 2>&1; fi
    ctr_ namespaces rm "$NS" >/dev/null 2>&1 ||
      note "warning: namespace $NS is not empty and was left: see 'ctr -a $SOCK -n $NS containers ls; ... images ls'"
  fi
  ip link show "$BRIDGE" >/dev/null 2>&1 && ip link del "$BRIDGE"
  # The library keeps its namespace directory a mount point (as `ip netns` does /run/netns).
  if [[ -n $WORK ]]; then
    while umount -l "$WORK/root/net/netns" 2>/dev/null; do :; done
    rm -rf "$WORK"
  fi
  if [[ -n $STARTED_DAEMON ]]; then "$BENCH" daemon-stop "$ROOT" "$NS" >/dev/null; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! ctr_ version >/dev/null 2>&1; then
  [[ -n ${LCD_BENCH_KEEP_DAEMON:-} ]] && die "no containerd answers at $SOCK (LCD_BENCH_KEEP_DAEMON is set: start it first)"
  STARTED_DAEMON=1
  "$BENCH" daemon-start "$ROOT" >/dev/null
  ctr_ version >/dev/null || die "containerd started under $ROOT does not answer at $SOCK"
fi
WORK=$(mktemp -d /tmp/lcd-net-bench-XXXXXX)
LOG=$WORK/sample.log

# The default network of this run, with its own bridge (the library picks a free /24).
lcctl_ network create --bridge "$BRIDGE" bridge >"$LOG" 2>&1 ||
  { cat "$LOG" >&2; die "creating the network 'bridge' (bridge $BRIDGE) failed"; }
SUBNET=$(lcctl_ network ls | awk '$1 == "bridge" { print $4 }')
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
HOSTPORT=
for _ in $(seq 100); do
  p=$((20000 + RANDOM % 40000))
  if port_free "$p"; then HOSTPORT=$p; break; fi
done
[[ -n $HOSTPORT ]] || die "no free port found"

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
series base "lcctl run --rm ID /bin/true (no --net: the runtime's own netns with lo)"
series none "lcctl run --rm --net none ID /bin/true (the library's netns, lo up, DNS files)"
series bridge "lcctl run --rm --net bridge ID /bin/true (CNI ADD and DEL on the default network)"
series bridge_p "lcctl run --rm --net bridge -p $HOSTPORT:80 ID /bin/true (+ portmap)"
run_variant() { # KEY N
  local -a net=()
  case $1 in
    none) net=(--net none) ;;
    bridge) net=(--net bridge) ;;
    bridge_p) net=(--net bridge -p "$HOSTPORT:80") ;;
  esac
  timed "$1" lcctl_ run --rm "${net[@]}" "net-$1-$$-$2" /bin/true
}

note "lifecycle with and without a network: $ITERS iterations (network 'bridge' = $BRIDGE, $SUBNET; host port $HOSTPORT)"
for key in "${ORDER[@]}"; do run_variant "$key" w; done # warm-up (imports the busybox image), not counted
for key in "${ORDER[@]}"; do SAMPLES[$key]=; done
for ((i = 1; i <= ITERS; i++)); do
  if ((i % 2)); then
    for key in base none bridge bridge_p; do run_variant "$key" "$i"; done
  else
    for key in bridge_p bridge none base; do run_variant "$key" "$i"; done
  fi
done

stats() { # samples... -> "n median p90"
  printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 }
    END { n = NR; m = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
          r = int(0.9 * n); if (r < 0.9 * n) r++; if (r < 1) r = 1
          printf "%d %.0f %.0f\n", n, m, a[r] }'
}
ms() { awk -v v="$1" 'BEGIN { printf "%.2f ms", v / 1e6 }'; }
TABLE=$BUILD/bench-net-table.md
JSONL=$BUILD/bench-samples.jsonl
# shellcheck disable=SC2086 # the samples are a space-separated list of numbers
read -r _ BASE _ < <(stats ${SAMPLES[base]})
{
  echo "| benchmark | variant | n | median | p90 | vs no --net (median) | what one sample is |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | --- |"
  for key in "${ORDER[@]}"; do
    # shellcheck disable=SC2086
    read -r n med p90 < <(stats ${SAMPLES[$key]})
    diff=$(awk -v a="$med" -v b="$BASE" 'BEGIN { printf "%+.2f ms", (a - b) / 1e6 }')
    [[ $key == base ]] && diff=-
    echo "| net_lifecycle | $key | $n | $(ms "$med") | $(ms "$p90") | $diff | ${WHAT[$key]} |"
  done
} | tee "$TABLE"
{
  for key in "${ORDER[@]}"; do
    # shellcheck disable=SC2086
    read -r n med p90 < <(stats ${SAMPLES[$key]})
    samples=$(tr -s ' ' '\n' <<<"${SAMPLES[$key]}" | sed '/^$/d' | paste -sd, -)
    printf '{"bench":"net_lifecycle","variant":"%s","unit":"ns","what":"%s","peer":false,"n":%s,"samples":[%s],"median":%s,"p90":%s,"command":"%s"}\n' \
      "$key" "${WHAT[$key]}" "$n" "$samples" "$med" "$p90" "$COMMAND"
  done
} >>"$JSONL"

# Where the bridge's time goes.
# (1) Each CNI plugin call, timed by a wrapper: --cni-path points at a directory of small bash
#     scripts, one per plugin, that run the real plugin as a child and log its wall time
#     ($EPOCHREALTIME, no extra exec). A plugin run by another (bridge runs host-local for its
#     IPAM) is logged as nested; the top-level calls add up to the time spent in plugins.
# (2) One run under `strace -f --seccomp-bpf -e trace=execve`: how many iptables/nft processes
#     each plugin starts (a plugin's are those started between its exec and its exit, the chain
#     running one plugin at a time; nested plugins kept on a stack).
if ((TRACE_RUNS > 0)); then
  echo
  note "breakdown: $TRACE_RUNS runs of bridge_p with timed plugin wrappers, 1 under strace"
  WRAP=$WORK/cni-wrap
  mkdir -p "$WRAP"
  for plugin in /usr/lib/cni/*; do
    name=${plugin##*/}
    cat >"$WRAP/$name" <<SH
#!/usr/bin/env bash
t0=\$EPOCHREALTIME
LCD_WRAP_DEPTH=\$((\${LCD_WRAP_DEPTH:-0} + 1)) $plugin "\$@"
rc=\$?
t1=\$EPOCHREALTIME
echo "$name \$CNI_COMMAND \${LCD_WRAP_DEPTH:-0} \$t0 \$t1" >>"$WORK/wrap.log"
exit \$rc
SH
    chmod +x "$WRAP/$name"
  done
  : >"$WORK/wrap.log"
  : >"$WORK/walls.txt"
  for ((i = 1; i <= TRACE_RUNS; i++)); do
    t0=$(date +%s%N)
    lcctl_ --cni-path "$WRAP" run --rm --net bridge -p "$HOSTPORT:80" "net-wrap-$$-$i" /bin/true >"$LOG" 2>&1 ||
      { cat "$LOG" >&2; die "the run with wrapped plugins failed"; }
    t1=$(date +%s%N)
    echo $((t1 - t0)) >>"$WORK/walls.txt"
  done
  strace -f --seccomp-bpf -q -tt -v -s 256 -e trace=execve -e signal=none -o "$WORK/strace.txt" \
    "$LCCTL" -a "$SOCK" -n "$NS" --root "$WORK/root" --net-config-dir "$WORK/netconf" \
    run --rm --net bridge -p "$HOSTPORT:80" "net-trace-$$" /bin/true >"$LOG" 2>&1 ||
    { cat "$LOG" >&2; die "the traced run failed"; }
  # pid time execve("/usr/lib/cni/NAME", ..., [... "CNI_COMMAND=ADD" ...]) = 0 ... pid time +++ exited
  awk '
    $3 ~ /^execve\("/ && $3 ~ /iptables|nft/ && $0 !~ /= -1 / { if (sp > 0) cnt[stack[sp]]++; next }
    $3 ~ /^execve\("\/(usr\/lib|opt)\/cni/ && $0 !~ /= -1 / {
      n = $3; sub(/^execve\("/, "", n); sub(/".*/, "", n); sub(/.*\//, "", n)
      c = "?"; if (match($0, /CNI_COMMAND=[A-Z]+/)) c = substr($0, RSTART + 12, RLENGTH - 12)
      stack[++sp] = $1; name[$1] = n " " c; cnt[$1] = 0; next }
    $3 == "+++" && sp > 0 && $1 == stack[sp] { print name[$1], cnt[$1]; sp-- }
  ' "$WORK/strace.txt" >"$WORK/iptables.txt"
  echo
  echo "| CNI plugin call | median | mean | iptables/nft processes it starts |"
  echo "| --- | ---: | ---: | ---: |"
  awk '{ k = $1 " " $2 ($3 > 0 ? " (nested)" : ""); v[k] = v[k] " " ($5 - $4) * 1000; n[k]++; s[k] += ($5 - $4) * 1000 }
    END { for (k in n) { split(k, w, " "); print w[1], w[2], (k ~ /nested/) ? 1 : 0, s[k] / n[k], v[k] } }' "$WORK/wrap.log" |
    sort -k2,2 -k1,1 | while read -r plugin cmd nested mean vals; do
      # shellcheck disable=SC2086
      med=$(printf '%s\n' $vals | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
      execs=$(awk -v k="$plugin $cmd" '$1 " " $2 == k { print $3; exit }' "$WORK/iptables.txt")
      label="$plugin $cmd"
      ((nested)) && label+=" (run by bridge, inside its time)"
      printf '| %s | %.1f ms | %.1f ms | %s |\n' "$label" "$med" "$mean" "${execs:-0}"
    done
  top=$(awk -v runs="$TRACE_RUNS" '$3 == 0 { s += ($5 - $4) * 1000 } END { printf "%.1f", s / runs }' "$WORK/wrap.log")
  # shellcheck disable=SC2046
  read -r _ wall _ < <(stats $(cat "$WORK/walls.txt"))
  echo
  echo "time in plugins per run (top-level calls, mean of $TRACE_RUNS): ${top} ms; the same runs' wall time (median): $(ms "$wall")"
  echo "iptables/nft processes per run (strace): $(awk '{ s += $3 } END { print s + 0 }' "$WORK/iptables.txt") (nested plugins' counted in their own row)"
fi
echo
echo "podman: not run (not installed on this machine)"
echo "wrote $TABLE; samples appended to $JSONL"
