#!/usr/bin/env bash
# The images benchmark (issue 15): lcctl side by side with ctr (and skopeo for the transfer
# alone) on one private containerd, alternating the variants in every iteration.
#
#   pull      a ~50 MB image of 5 gzip layers (busybox + 4 x 12 MiB of random data) from a
#             local registry on 127.0.0.1, into a cold content store, unpacked (lcctl, ctr);
#             skopeo copies the same image to a fresh OCI directory and does NOT unpack
#   import    a docker-archive of the same image (cold content store, unpacked)
#   lifecycle run --rm of a small busybox image already pulled and unpacked (warm)
#
# "Cold": each containerd sample runs in its own namespace (one per variant), which is emptied
# after the sample (images rm --sync, leases rm --sync); the next sample starts only once the
# image's blobs are gone from containerd's content store on disk (checked, with a deadline).
#
# Usage: sudo bench/images_bench.sh [ITERATIONS]      (default 30; root, after scripts/setup)
#        or through bench/run.sh: LCD_BENCH_ONLY=images sudo bench/run.sh [ITERATIONS]
# Env:   LCD_BENCH_BUILD  build directory with lcctl and lcd_bench (default <repo>/build-bench;
#                         standalone, this script does not build: run bench/run.sh once, or
#                         ninja -C build-bench lcd_bench lcctl)
#        LCD_BENCH_ROOT   private daemon root (default /run/lcdbench); started with lcd_bench
#                         daemon-start when it is not running, and then stopped at the end
#        LCD_BENCH_KEEP_DAEMON=1  the daemon is the caller's (bench/run.sh): never stop it
#        LCD_BENCH_LAYER_MB  size of each random layer in MiB (default 12)
#        LCD_BENCH_COMMAND  the command recorded in the JSON lines (bench/run.sh sets it)
# Prints a Markdown table (also written to $LCD_BENCH_BUILD/bench-images-table.md) and appends
# one JSON line per series (every sample, in ns) to $LCD_BENCH_BUILD/bench-samples.jsonl.
# Traffic goes only to 127.0.0.1. Everything it creates (registry process, temp dir,
# namespaces, the daemon if it started it) is removed on exit, on failure too.
set -euo pipefail

die() { echo "bench/images_bench.sh: error: $*" >&2; exit 1; }
note() { echo "bench/images_bench.sh: $*" >&2; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${LCD_BENCH_BUILD:-$REPO/build-bench}
ROOT=$(realpath -m "${LCD_BENCH_ROOT:-/run/lcdbench}")
ITERS=${1:-30}
LAYER_MB=${LCD_BENCH_LAYER_MB:-12}
COMMAND=${LCD_BENCH_COMMAND:-bench/images_bench.sh $ITERS}
[[ $ITERS =~ ^[1-9][0-9]*$ ]] || die "ITERATIONS must be a positive number, got '$ITERS'"
[[ $LAYER_MB =~ ^[1-9][0-9]*$ ]] || die "LCD_BENCH_LAYER_MB must be a positive number, got '$LAYER_MB'"
[[ $(id -u) -eq 0 ]] || die "must run as root (containers need it): try 'sudo $0'"
for tool in ctr runc containerd docker-registry skopeo umoci curl tar busybox; do
  command -v "$tool" >/dev/null || die "$tool is not installed: run 'sudo scripts/setup' first"
done
LCCTL=$BUILD/tools/lcctl/lcctl
BENCH=$BUILD/bench/lcd_bench
[[ -x $LCCTL ]] || die "$LCCTL is not built: run 'ninja -C $BUILD lcctl' (or bench/run.sh)"
[[ -x $BENCH ]] || die "$BENCH is not built: run 'ninja -C $BUILD lcd_bench' (or bench/run.sh)"

SOCK=$ROOT/containerd.sock
RUNC_ROOT=$ROOT/runc
BLOBS=$ROOT/root/io.containerd.content.v1.content/blobs/sha256
TAG=latest
NS_PREFIX=lcdbench-img-$$
NS_LCCTL=$NS_PREFIX-lcctl
NS_CTR=$NS_PREFIX-ctr
NS_RUN=$NS_PREFIX-run
NAMESPACES=("$NS_LCCTL" "$NS_CTR" "$NS_RUN")

WORK=
REG_PID=
STARTED_DAEMON=
ctr_() { ctr -a "$SOCK" "$@"; }

# Empties namespace $1: tasks, containers, images, leases, content (with synchronous GC).
empty_ns() {
  local ns=$1 x
  local -a list
  mapfile -t list < <(ctr_ -n "$ns" containers ls -q 2>/dev/null)
  for x in "${list[@]}"; do
    ctr_ -n "$ns" tasks rm -f "$x" >/dev/null 2>&1 || true
    ctr_ -n "$ns" containers rm "$x" >/dev/null 2>&1 || true
  done
  mapfile -t list < <(ctr_ -n "$ns" images ls -q 2>/dev/null)
  if ((${#list[@]})); then ctr_ -n "$ns" images rm --sync "${list[@]}" >/dev/null; fi
  mapfile -t list < <(ctr_ -n "$ns" leases ls -q 2>/dev/null)
  if ((${#list[@]})); then ctr_ -n "$ns" leases rm --sync "${list[@]}" >/dev/null; fi
}

cleanup() {
  local rc=$? ns
  set +e
  if [[ -S $SOCK ]]; then
    for ns in "${NAMESPACES[@]}"; do
      ctr_ namespaces ls -q 2>/dev/null | grep -qxF "$ns" || continue
      empty_ns "$ns" 2>/dev/null
      local -a blobs
      mapfile -t blobs < <(ctr_ -n "$ns" content ls -q 2>/dev/null)
      if ((${#blobs[@]})); then ctr_ -n "$ns" content rm "${blobs[@]}" >/dev/null 2>&1; fi
      ctr_ namespaces rm "$ns" >/dev/null 2>&1 ||
        note "warning: namespace $ns is not empty and was left: see 'ctr -a $SOCK -n $ns images ls; ... snapshots ls; ... content ls'"
    done
  fi
  if [[ -n $REG_PID ]]; then
    kill "$REG_PID" 2>/dev/null
    wait "$REG_PID" 2>/dev/null
  fi
  [[ -n $WORK ]] && rm -rf "$WORK"
  if [[ -n $STARTED_DAEMON ]]; then "$BENCH" daemon-stop "$ROOT" "${NAMESPACES[@]}" >/dev/null; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# The daemon (the caller's, or started here through the library's Supervisor).
if ! ctr_ version >/dev/null 2>&1; then
  [[ -n ${LCD_BENCH_KEEP_DAEMON:-} ]] && die "no containerd answers at $SOCK (LCD_BENCH_KEEP_DAEMON is set: start it first)"
  STARTED_DAEMON=1
  "$BENCH" daemon-start "$ROOT" >/dev/null
  ctr_ version >/dev/null || die "containerd started under $ROOT does not answer at $SOCK"
fi

WORK=$(mktemp -d /tmp/lcd-images-bench-XXXXXX)
LOG=$WORK/sample.log

# ---------------------------------------------------------------------------------------------
# The images, built offline: busybox in an OCI layout (umoci), then 4 layers of random data.
note "building the images in $WORK (busybox + 4 x $LAYER_MB MiB of random data)"
(
  cd "$WORK"
  umoci init --layout oci
  umoci new --image oci:small
  umoci unpack --image oci:small bundle >/dev/null
  mkdir -p bundle/rootfs/bin bundle/rootfs/tmp bundle/rootfs/etc
  cp "$(command -v busybox)" bundle/rootfs/bin/busybox
  for a in $(bundle/rootfs/bin/busybox --list); do
    [[ $a == busybox ]] || ln -sf busybox "bundle/rootfs/bin/$a"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\n' >bundle/rootfs/etc/passwd
  printf 'root:x:0:\n' >bundle/rootfs/etc/group
  umoci repack --image oci:small bundle >/dev/null
  umoci config --image oci:small --config.cmd sh --config.env PATH=/bin
  umoci tag --image oci:small bench
  for i in 1 2 3 4; do
    mkdir "layer$i"
    head -c $((LAYER_MB * 1024 * 1024)) /dev/urandom >"layer$i/random-$i.bin"
    tar -C "layer$i" --owner=0 --group=0 --numeric-owner -cf "layer$i.tar" "random-$i.bin"
    umoci raw add-layer --image oci:bench "layer$i.tar"
    rm -rf "layer$i" "layer$i.tar"
  done
  rm -rf bundle
  skopeo copy -q "oci:oci:bench" "docker-archive:bench.tar:bench:$TAG"
) >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; die "building the images failed (log above)"; }
ARCHIVE=$WORK/bench.tar

# Every blob of the big image (config, gzip layers, and the uncompressed layers an import stores):
# none of them may be in containerd's content store when a cold sample starts.
manifest=$(skopeo inspect --raw "oci:$WORK/oci:bench")
config=$(skopeo inspect --config --raw "oci:$WORK/oci:bench")
mapfile -t COLD < <({ grep -o 'sha256:[0-9a-f]\{64\}' <<<"$manifest"; grep -o 'sha256:[0-9a-f]\{64\}' <<<"$config"; } |
  sed 's/^sha256://' | sort -u)
CONFIG_HEX=$(grep -o '"config": *{[^}]*}' <<<"$manifest" | grep -o 'sha256:[0-9a-f]\{64\}' | sed 's/^sha256://')
[[ -n $CONFIG_HEX && ${#COLD[@]} -ge 11 ]] || die "could not read the image's digests (manifest: $manifest)"
IMAGE_BYTES=$(grep -o '"size": *[0-9]*' <<<"$manifest" | awk -F: '{ s += $2 } END { print s }')
ARCHIVE_BYTES=$(stat -c %s "$ARCHIVE")

# ---------------------------------------------------------------------------------------------
# The registry: Debian's docker-registry with its own config, on 127.0.0.1 only.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=
for _ in $(seq 100); do
  p=$((20000 + RANDOM % 40000))
  if port_free "$p"; then PORT=$p; break; fi
done
[[ -n $PORT ]] || die "no free port found on 127.0.0.1"
mkdir -p "$WORK/registry"
cat >"$WORK/registry.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$PORT
YML
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
deadline=$(($(date +%s) + 30))
until curl -fsS -o /dev/null "http://127.0.0.1:$PORT/v2/" 2>/dev/null; do
  kill -0 "$REG_PID" 2>/dev/null || { cat "$WORK/registry.log" >&2; die "docker-registry exited (log above)"; }
  (($(date +%s) < deadline)) || die "docker-registry did not answer on 127.0.0.1:$PORT within 30 s"
  sleep 0.1
done
REG=127.0.0.1:$PORT
for img in bench small; do
  skopeo copy -q --dest-tls-verify=false "oci:$WORK/oci:$img" "docker://$REG/$img:$TAG" >"$LOG" 2>&1 ||
    { cat "$LOG" >&2; die "pushing $img to $REG failed (log above)"; }
done
REF=$REG/bench:$TAG
SMALL=$REG/small:$TAG

# ---------------------------------------------------------------------------------------------
# Samples.
declare -A SAMPLES=()
declare -A WHAT=()
declare -A PEER=()
ORDER=()
series() { # KEY PEER(0/1) WHAT
  ORDER+=("$1")
  PEER[$1]=$2
  WHAT[$1]=$3
  SAMPLES[$1]=
}
# timed KEY CMD...: runs CMD (output to $LOG), adds its wall time in ns to KEY.
timed() {
  local key=$1 t0 t1
  shift
  t0=$(date +%s%N)
  "$@" >"$LOG" 2>&1 || { cat "$LOG" >&2; die "sample of $key failed: $*"; }
  t1=$(date +%s%N)
  SAMPLES[$key]+=" $((t1 - t0))"
}
# The sample stored the image (checked), then the namespace is emptied and the store is cold.
settle() { # NS
  [[ -e $BLOBS/$CONFIG_HEX ]] || die "the image's config is not in $BLOBS after a sample in $1: is that containerd's content store?"
  empty_ns "$1" || die "emptying namespace $1 after a sample failed"
  local deadline=$(($(date +%s) + 60)) d left
  while :; do
    left=
    for d in "${COLD[@]}"; do [[ -e $BLOBS/$d ]] && left=$d && break; done
    [[ -z $left && -z $(ctr_ -n "$1" snapshots ls | tail -n +2) ]] && return 0
    (($(date +%s) < deadline)) ||
      die "the content store is not cold 60 s after emptying $1 (${left:+blob sha256:$left still there; }snapshots: $(ctr_ -n "$1" snapshots ls | tail -n +2 | wc -l))"
    sleep 0.05
  done
}

series pull/lcctl 0 "lcctl image pull -q (fetch + unpack into overlayfs), cold content store"
series pull/ctr 1 "ctr images pull --plain-http (fetch + unpack into overlayfs), cold content store"
series pull/skopeo 1 "skopeo copy docker:// to a fresh oci: directory (fetch only, NO unpack)"
series import/lcctl 0 "lcctl image import of the docker-archive (unpacked), cold content store"
series import/ctr 1 "ctr images import of the docker-archive (unpacked), cold content store"
series lifecycle/lcctl 0 "lcctl run --rm IMAGE ID /bin/true (small busybox image, pulled and unpacked: warm)"
series lifecycle/ctr 1 "ctr run --rm --runc-root R IMAGE ID /bin/true (same image, warm; stdio through FIFOs)"
series lifecycle/ctr_null_io 1 "ctr run --rm --null-io --runc-root R IMAGE ID /bin/true (same image, warm)"

pull_lcctl() {
  timed pull/lcctl "$LCCTL" -a "$SOCK" -n "$NS_LCCTL" image pull -q "$REF"
  settle "$NS_LCCTL"
}
pull_ctr() {
  timed pull/ctr ctr -a "$SOCK" -n "$NS_CTR" images pull --plain-http "$REF"
  settle "$NS_CTR"
}
pull_skopeo() {
  local dir=$WORK/skopeo-dest
  rm -rf "$dir"
  timed pull/skopeo skopeo copy -q --src-tls-verify=false "docker://$REF" "oci:$dir:$TAG"
  rm -rf "$dir"
}
import_lcctl() {
  timed import/lcctl "$LCCTL" -a "$SOCK" -n "$NS_LCCTL" image import "$ARCHIVE"
  settle "$NS_LCCTL"
}
import_ctr() {
  timed import/ctr ctr -a "$SOCK" -n "$NS_CTR" images import "$ARCHIVE"
  settle "$NS_CTR"
}

# Make sure nothing of the image is left from an earlier run before the first cold sample.
for ns in "$NS_LCCTL" "$NS_CTR"; do empty_ns "$ns"; done
for d in "${COLD[@]}"; do
  [[ ! -e $BLOBS/$d ]] || die "blob sha256:$d of a freshly built image is already in $BLOBS: another namespace holds it"
done

# Phase 1: pulls and imports, cold. The order of the variants is reversed every other iteration.
note "pull and import: $ITERS iterations against $REF (image $((IMAGE_BYTES / 1048576)) MiB, archive $((ARCHIVE_BYTES / 1048576)) MiB)"
for ((i = 1; i <= ITERS; i++)); do
  if ((i % 2)); then
    pull_lcctl; pull_ctr; pull_skopeo; import_lcctl; import_ctr
  else
    import_ctr; import_lcctl; pull_skopeo; pull_ctr; pull_lcctl
  fi
done

# Phase 2: lifecycle from an image, warm (after phase 1: this namespace shares busybox's layer).
note "lifecycle from an image: $ITERS iterations of $SMALL"
"$LCCTL" -a "$SOCK" -n "$NS_RUN" image pull -q "$SMALL" >"$LOG" 2>&1 || { cat "$LOG" >&2; die "pulling $SMALL failed"; }
run_lcctl() { timed lifecycle/lcctl "$LCCTL" -a "$SOCK" -n "$NS_RUN" run --rm "$SMALL" "img-lcctl-$$-$1" /bin/true; }
run_ctr() { timed lifecycle/ctr ctr -a "$SOCK" -n "$NS_RUN" run --rm --runc-root "$RUNC_ROOT" "$SMALL" "img-ctr-$$-$1" /bin/true; }
run_ctr_null() {
  timed lifecycle/ctr_null_io ctr -a "$SOCK" -n "$NS_RUN" run --rm --null-io --runc-root "$RUNC_ROOT" "$SMALL" "img-ctrn-$$-$1" /bin/true
}
run_lcctl w; run_ctr w; run_ctr_null w # warm-up, not counted
for key in lifecycle/lcctl lifecycle/ctr lifecycle/ctr_null_io; do SAMPLES[$key]=; done
for ((i = 1; i <= ITERS; i++)); do
  if ((i % 2)); then run_lcctl "$i"; run_ctr "$i"; run_ctr_null "$i"; else run_ctr_null "$i"; run_ctr "$i"; run_lcctl "$i"; fi
done

# ---------------------------------------------------------------------------------------------
# Report: medians, p90 (rank ceil(0.9 n), as lcd_bench), ratios of medians lcctl / peers.
stats() { # samples... -> "n median p90"
  printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 }
    END { n = NR; m = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
          r = int(0.9 * n); if (r < 0.9 * n) r++; if (r < 1) r = 1
          printf "%d %.0f %.0f\n", n, m, a[r] }'
}
fmt() { awk -v v="$1" 'BEGIN { if (v >= 1e9) printf "%.2f s", v / 1e9; else printf "%.2f ms", v / 1e6 }'; }
declare -A MEDIAN=()
TABLE=$BUILD/bench-images-table.md
JSONL=$BUILD/bench-samples.jsonl
{
  echo "| benchmark | variant | n | median | p90 | ratio (lcctl / peer) | what one sample is |"
  echo "| --- | --- | ---: | ---: | ---: | --- | --- |"
  for key in "${ORDER[@]}"; do
    # shellcheck disable=SC2086 # the samples are a space-separated list of numbers
    read -r n med p90 < <(stats ${SAMPLES[$key]})
    MEDIAN[$key]=$med
  done
  for key in "${ORDER[@]}"; do
    bench=${key%%/*} variant=${key#*/}
    # shellcheck disable=SC2086
    read -r n med p90 < <(stats ${SAMPLES[$key]})
    ratio=
    if [[ $variant == lcctl ]]; then
      for peer in "${ORDER[@]}"; do
        [[ ${peer%%/*} == "$bench" && ${PEER[$peer]} == 1 ]] || continue
        ratio+="${ratio:+, }$(awk -v a="$med" -v b="${MEDIAN[$peer]}" 'BEGIN { printf "%.3g", a / b }')x ${peer#*/}"
      done
    fi
    label=$variant
    [[ ${PEER[$key]} == 1 ]] && label+=" (peer)"
    echo "| images_$bench | $label | $n | $(fmt "$med") | $(fmt "$p90") | $ratio | ${WHAT[$key]} |"
  done
} | tee "$TABLE"

{
  for key in "${ORDER[@]}"; do
    # shellcheck disable=SC2086
    read -r n med p90 < <(stats ${SAMPLES[$key]})
    samples=$(tr -s ' ' '\n' <<<"${SAMPLES[$key]}" | sed '/^$/d' | paste -sd, -)
    peer=false
    [[ ${PEER[$key]} == 1 ]] && peer=true
    printf '{"bench":"images_%s","variant":"%s","unit":"ns","what":"%s","peer":%s,"n":%s,"samples":[%s],"median":%s,"p90":%s,"image_bytes":%s,"archive_bytes":%s,"command":"%s"}\n' \
      "${key%%/*}" "${key#*/}" "${WHAT[$key]}" "$peer" "$n" "$samples" "$med" "$p90" "$IMAGE_BYTES" "$ARCHIVE_BYTES" "$COMMAND"
  done
} >>"$JSONL"
echo
echo "image: 5 gzip layers, $IMAGE_BYTES bytes in its OCI layout; docker-archive $ARCHIVE_BYTES bytes (layers uncompressed)"
echo "wrote $TABLE; samples appended to $JSONL"
