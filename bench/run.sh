#!/usr/bin/env bash
# The benchmark command: libcontainerd side by side with ctr, lcctl and runc on one private
# containerd, alternating the variants in every iteration so that machine drift cancels.
#
# Usage: sudo bench/run.sh [ITERATIONS]        (default 30; run as root, after scripts/setup)
# Env:   LCD_BENCH_BUILD  build directory      (default <repo>/build-bench, Release)
#        LCD_BENCH_ROOT   private daemon root  (default /run/lcdbench; stopped at the end)
#        LCD_BENCH_ROOTFS busybox rootfs       (default /var/lib/libcontainerd/rootfs/busybox)
#        LCD_BENCH_ONLY   comma list of benchmarks (lifecycle,exec,stats,events,throughput,rss,
#                         event_latency,scale,callgrind,images,net,engine,startup); all but
#                         scale, callgrind, images, net, engine and startup when unset.
#                         Issue 20: `throughput` also runs 16 parallel `ctr run --rm --null-io`
#                         (rows throughput16); `event_latency` times the library's part of an
#                         event (stream read to Backend::ProcessEvent) under 16 concurrent
#                         lifecycles; `scale` runs LCD_BENCH_SCALE_N (default 100) `sleep`
#                         containers under one Client (16 workers) against as many `ctr run -d`,
#                         StatsMany and ListContainers of all, RSS, and checks the tear-down;
#                         `callgrind` counts the instructions of LCD_BENCH_INSTR_N (default 20)
#                         API lifecycles under valgrind --tool=callgrind (after a warm-up,
#                         start-up excluded) and writes $LCD_BENCH_BUILD/bench-callgrind.md
#                         (per lifecycle, by object, top inclusive functions).
#                         Example: LCD_BENCH_ONLY=callgrind,scale LCD_BENCH_SCALE_N=500 sudo bench/run.sh 10
#                         `startup` (issue 20) runs bench/startup.sh on the same daemon: lcctl's
#                         --version, version, run --rm and task exec against ctr's, 50 alternating
#                         runs each unless ITERATIONS says otherwise (RESULTS.md "Start-up").
#                         Example: LCD_BENCH_ONLY=startup sudo bench/run.sh 50
#                         `direct` (issue 19) runs bench/direct_bench.sh: the daemonless backend's
#                         lifecycle vs runc run, the containerd backend, ctr and podman; exec vs
#                         runc exec; the monitor's memory vs the shim's and conmon's (its own
#                         containerd; RESULTS.md "Direct backend"). Example: LCD_BENCH_ONLY=direct sudo bench/run.sh 20
#                         `images` (issue 15) runs bench/images_bench.sh on the same daemon:
#                         pull from a local registry on 127.0.0.1 and import of a ~50 MB image
#                         (cold), lifecycle from an image (warm), lcctl vs ctr (and skopeo for
#                         the pull): see that script and RESULTS.md "Images".
#                         Example: LCD_BENCH_ONLY=images sudo bench/run.sh 20
#                         `net` (issue 16) runs bench/net_bench.sh the same way: run --rm with no
#                         --net, --net none, --net bridge, --net bridge -p, and the time of each
#                         CNI plugin (RESULTS.md "Networking"). Example: LCD_BENCH_ONLY=net sudo bench/run.sh 20
#                         `engine` runs bench/engine_bench.sh (builds lcd-engine here first): the
#                         docker CLI through lcd-engine vs a private dockerd (docker.io), and
#                         podman: run --rm, ps -a, stats --no-stream, idle RSS (RESULTS.md
#                         "Engine"; it starts its own engines, not this daemon; it installs
#                         docker.io and podman when missing). Example: LCD_BENCH_ONLY=engine sudo bench/run.sh 10
#        LCD_BENCH_NO_BUILD=1  measure the binaries already built (do not rebuild)
# Prints the table (Markdown) and writes bench/results.json (every sample, in ns or kB);
# the JSON lines of each measurement go to $LCD_BENCH_BUILD/bench-samples.jsonl.
# The images benchmark prints its own table (also $LCD_BENCH_BUILD/bench-images-table.md) and
# appends its JSON lines to the same bench-samples.jsonl; it does not touch bench/results.json.
set -euo pipefail

die() { echo "bench/run.sh: error: $*" >&2; exit 1; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${LCD_BENCH_BUILD:-$REPO/build-bench}
ROOT=${LCD_BENCH_ROOT:-/run/lcdbench}
ROOTFS=${LCD_BENCH_ROOTFS:-/var/lib/libcontainerd/rootfs/busybox}
ITERS=${1:-30}
[[ $ITERS =~ ^[1-9][0-9]*$ ]] || die "ITERATIONS must be a positive number, got '$ITERS'"
[[ $(id -u) -eq 0 ]] || die "must run as root (containers need it): try 'sudo $0'"
for tool in cmake ninja containerd runc ctr; do
  command -v "$tool" >/dev/null || die "$tool is not installed: run 'sudo scripts/setup' first"
done

# Build the harness (and lcctl when its sources build) in Release.
# -Wno-error=restrict: GCC 12 at -O3 reports a false -Wrestrict inside std::string's
# operator+ (GCC bug 105651); it stays a warning here so a Release build is not blocked by it.
if [[ -n ${LCD_BENCH_NO_BUILD:-} ]]; then
  echo "bench/run.sh: LCD_BENCH_NO_BUILD set: using the binaries already in $BUILD" >&2
elif [[ ! -f $BUILD/CMakeCache.txt ]]; then
  cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS=-Wno-error=restrict >/dev/null
fi
if [[ -z ${LCD_BENCH_NO_BUILD:-} ]]; then
  ninja -C "$BUILD" -j2 lcd_bench >/dev/null || die "building lcd_bench failed (see: ninja -C $BUILD lcd_bench)"
fi
LCCTL=$BUILD/tools/lcctl/lcctl
if [[ -n ${LCD_BENCH_NO_BUILD:-} && ! -x $LCCTL ]] || { [[ -z ${LCD_BENCH_NO_BUILD:-} ]] && ! ninja -C "$BUILD" -j2 lcctl >/dev/null 2>&1; }; then
  echo "bench/run.sh: lcctl does not build here: its rows are reported as not measured" >&2
  LCCTL=
fi
BENCH=$BUILD/bench/lcd_bench

# The callgrind table: instructions per lifecycle, by object (exclusive), top functions
# (inclusive). Args: OUT-FILE LIFECYCLES COMMAND.
callgrind_summary() {
  local out=$1 n=$2 cmd=$3 total
  local -  # the pipes below stop reading early (head, awk's exit): no pipefail in here
  set +o pipefail
  total=$(callgrind_annotate "$out" | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1; exit}')
  [[ -n $total ]] || die "no totals in $out"
  echo "### Instructions per API lifecycle (callgrind)"
  echo
  echo "Command: \`$cmd\` ($n lifecycles counted, warm-up and start-up excluded; all threads)."
  echo
  echo "Total: $total instructions, $((total / n)) per lifecycle."
  echo
  echo "| object | Ir per lifecycle (exclusive) | share |"
  echo "| --- | ---: | ---: |"
  callgrind_annotate --threshold=100 "$out" | awk -v n="$n" -v total="$total" '
    /^ *[0-9,]+ .*\[[^]]*\]$/ {
      c = $1; gsub(",", "", c); obj = $0; sub(/.*\[/, "", obj); sub(/\]$/, "", obj)
      k = obj; sub(/.*\//, "", k); sum[k] += c }
    END { for (k in sum) printf "%d\t%s\n", sum[k], k }' | sort -rn | head -15 |
    while IFS=$'\t' read -r c k; do
      printf '| %s | %d | %.1f%% |\n' "$k" "$((c / n))" "$(awk -v c="$c" -v t="$total" 'BEGIN{print 100*c/t}')"
    done
  echo
  echo "Top 40 functions, inclusive, per lifecycle:"
  echo
  echo '```'
  callgrind_annotate --inclusive=yes --threshold=100 "$out" | awk -v n="$n" '
    /^ *[0-9,]+ / && !/PROGRAM TOTALS/ && shown < 40 {
      c = $1; gsub(",", "", c); $1 = ""; line = $0; sub(/^ *(\([^)]*\) *)?/, "", line)
      printf "%12d  %s\n", c / n, substr(line, 1, 160); shown++ }'
  echo '```'
}

# The private containerd, through the library's Supervisor (detached; stopped on exit).
"$BENCH" daemon-start "$ROOT" >/dev/null
# Namespaces: lcdbench, lcdbench-ctr (the scale benchmark's ctr containers), lcdbench-instr.
cleanup() { "$BENCH" daemon-stop "$ROOT" lcdbench lcdbench-ctr lcdbench-instr >/dev/null || true; }
trap cleanup EXIT

meta=(
  --meta "command=bench/run.sh $ITERS"
  --meta "nproc=$(nproc)"
  --meta "cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
  --meta "ram=$(free -h | awk '/^Mem:/{print $2}')"
  --meta "kernel=$(uname -r)"
  --meta "containerd=$(containerd --version)"
  --meta "runc=$(runc --version | head -1)"
  --meta "ctr=$(ctr --version)"
  --meta "uptime_before=$(uptime)"
  --meta "docker=$(command -v dockerd >/dev/null && echo installed || echo 'not run: no dockerd on this machine')"
  --meta "podman=$(command -v podman >/dev/null && echo installed || echo 'not run: not installed')"
)
# `images` is not a benchmark of lcd_bench: split it off (lcd_bench ignores unknown names, and
# given none it would overwrite bench/results.json with nothing).
only=()
images=
net=
engine=
callgrind=
startup=
direct=
if [[ -n ${LCD_BENCH_ONLY:-} ]]; then
  IFS=, read -ra wanted <<<"$LCD_BENCH_ONLY"
  rest=
  for b in "${wanted[@]}"; do
    if [[ $b == images ]]; then images=1; elif [[ $b == net ]]; then net=1; elif [[ $b == engine ]]; then engine=1; elif [[ $b == callgrind ]]; then callgrind=1; elif [[ $b == startup ]]; then startup=1; elif [[ $b == direct ]]; then direct=1; else rest+=${rest:+,}$b; fi
  done
  if [[ -n $rest ]]; then only=(--only "$rest"); fi
fi

if [[ -z ${LCD_BENCH_ONLY:-} || ${#only[@]} -gt 0 ]]; then
  "$BENCH" run --daemon-root "$ROOT" --ns lcdbench --rootfs "$ROOTFS" --iters "$ITERS" \
    --lcctl "${LCCTL:-}" --jsonl "$BUILD/bench-samples.jsonl" --results "$REPO/bench/results.json" \
    --markdown "$BUILD/bench-table.md" "${meta[@]}" "${only[@]}"
else
  : >"$BUILD/bench-samples.jsonl"  # a fresh file for this run, as lcd_bench makes it
fi
if [[ -n $callgrind ]]; then
  command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null ||
    die "the callgrind benchmark needs valgrind: run 'apt-get install valgrind'"
  N=${LCD_BENCH_INSTR_N:-20}
  [[ $N =~ ^[1-9][0-9]*$ ]] || die "LCD_BENCH_INSTR_N must be a positive number, got '$N'"
  out=$BUILD/callgrind.lifecycle.out
  rm -f "$out"
  echo "callgrind: $N API lifecycles under valgrind (slow: about a second each)" >&2
  cmd=(valgrind --tool=callgrind --instr-atstart=no "--callgrind-out-file=$out"
       "$BENCH" run --daemon-root "$ROOT" --ns lcdbench-instr --rootfs "$ROOTFS" --only instr
       --instr-n "$N" --jsonl "$BUILD/bench-callgrind.jsonl")
  "${cmd[@]}" >/dev/null 2>"$BUILD/callgrind.log" || die "callgrind run failed: see $BUILD/callgrind.log"
  callgrind_summary "$out" "$N" "${cmd[*]}" | tee "$BUILD/bench-callgrind.md"
fi
if [[ -n $images ]]; then
  [[ -n ${LCCTL:-} ]] || die "the images benchmark needs lcctl, which does not build here"
  echo
  LCD_BENCH_BUILD=$BUILD LCD_BENCH_ROOT=$ROOT LCD_BENCH_KEEP_DAEMON=1 \
    LCD_BENCH_COMMAND="LCD_BENCH_ONLY=$LCD_BENCH_ONLY bench/run.sh $ITERS" \
    "$REPO/bench/images_bench.sh" "$ITERS"
fi
if [[ -n $net ]]; then
  [[ -n ${LCCTL:-} ]] || die "the networking benchmark needs lcctl, which does not build here"
  echo
  LCD_BENCH_BUILD=$BUILD LCD_BENCH_ROOT=$ROOT LCD_BENCH_KEEP_DAEMON=1 \
    LCD_BENCH_COMMAND="LCD_BENCH_ONLY=$LCD_BENCH_ONLY bench/run.sh $ITERS" \
    "$REPO/bench/net_bench.sh" "$ITERS"
fi
if [[ -n $startup ]]; then
  [[ -n ${LCCTL:-} ]] || die "the start-up benchmark needs lcctl, which does not build here"
  echo
  LCCTL=$LCCTL ROOTFS=$ROOTFS "$REPO/bench/startup.sh" "$ROOT/containerd.sock" "$ITERS"
fi
if [[ -n $direct ]]; then
  echo
  LCD_BENCH_BUILD=$BUILD LCD_BENCH_ROOTFS=$ROOTFS "$REPO/bench/direct_bench.sh" "$ITERS"
fi
if [[ -n $engine ]]; then
  if [[ -z ${LCD_BENCH_NO_BUILD:-} ]]; then
    ninja -C "$BUILD" -j2 lcd-engine >/dev/null || die "building lcd-engine failed (see: ninja -C $BUILD lcd-engine)"
  fi
  echo
  LCD_BENCH_BUILD=$BUILD LCD_BENCH_COMMAND="LCD_BENCH_ONLY=$LCD_BENCH_ONLY bench/run.sh $ITERS" \
    "$REPO/bench/engine_bench.sh" "$ITERS"
fi
echo
echo "load after the run: $(uptime)"
if [[ -z ${LCD_BENCH_ONLY:-} || ${#only[@]} -gt 0 ]]; then
  echo "wrote $REPO/bench/results.json (samples: $BUILD/bench-samples.jsonl)"
else
  echo "samples: $BUILD/bench-samples.jsonl"
fi
