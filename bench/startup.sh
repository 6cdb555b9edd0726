#!/usr/bin/env bash
# lcctl's start-up against ctr's (issue 20), in one run, the commands alternating in every
# iteration (the order rotating) so that machine drift cancels out.
#
# Usage: sudo bench/startup.sh ADDRESS [ITERATIONS]      (default 50)
#   ADDRESS  a running containerd's socket, e.g. one started by
#            build/tests/lcd_test_daemon start /tmp/lcdt-x  (then /tmp/lcdt-x/containerd.sock);
#            its runc root is taken as ADDRESS's directory + /runc (the Supervisor's layout).
# Env: LCCTL (default <repo>/build/tools/lcctl/lcctl), CTR (default ctr in PATH),
#      ROOTFS (default <repo>/build/rootfs/busybox), LCD_STARTUP_NS (default lcdstartup),
#      LCCTL_BASELINE another lcctl measured in the same run (rows "lcctl-base"), e.g. a
#      build before a change; LCCTL_BASELINE_LIBS a directory put in LD_LIBRARY_PATH for it.
# Measures, per command: wall time from fork to exit (median, p10, p90) and the peak RSS
# (ru_maxrss of the child, median) of
#   /bin/true; --version; version (connect + one RPC); run --rm /bin/true (rootfs, no image);
#   task exec /bin/true in a running container.
# Prints a Markdown table with lcctl/ctr ratios of the medians. Fails when a command fails.
set -euo pipefail
die() { echo "bench/startup.sh: error: $*" >&2; exit 1; }
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ADDR=${1:-}; ITERS=${2:-50}
[[ -S $ADDR ]] || die "ADDRESS '$ADDR' is not a socket (start a daemon: build/tests/lcd_test_daemon start ROOT)"
[[ $ITERS =~ ^[1-9][0-9]*$ ]] || die "ITERATIONS must be a positive number, got '$ITERS'"
LCCTL=${LCCTL:-$REPO/build/tools/lcctl/lcctl}
CTR=${CTR:-$(command -v ctr || true)}
ROOTFS=${ROOTFS:-$REPO/build/rootfs/busybox}
NS=${LCD_STARTUP_NS:-lcdstartup}
RUNC_ROOT=$(dirname "$ADDR")/runc
[[ -x $LCCTL ]] || die "no lcctl at $LCCTL (build the lcctl target, or set LCCTL)"
[[ -x $CTR ]] || die "ctr is not installed (run scripts/setup)"
BASE=${LCCTL_BASELINE:-}
[[ -z $BASE || -x $BASE ]] || die "LCCTL_BASELINE '$BASE' is not executable"
[[ -x $ROOTFS/bin/busybox ]] || die "no busybox rootfs at $ROOTFS (build the lcd_rootfs target, or set ROOTFS)"

tmp=$(mktemp -d)
sleeper=startup-sleeper-$$
cleanup() {
  "$CTR" --address "$ADDR" -n "$NS" task kill -s KILL "$sleeper" >/dev/null 2>&1 || true
  sleep 0.2
  "$CTR" --address "$ADDR" -n "$NS" task rm -f "$sleeper" >/dev/null 2>&1 || true
  "$CTR" --address "$ADDR" -n "$NS" container rm "$sleeper" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# The timer: runs each command line of a spec file once per iteration (tab-separated argv,
# "%i" replaced by the iteration), stdout and stderr to /dev/null, and reports per line.
cat >"$tmp/timer.c" <<'C'
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>
enum { kMaxCmds = 32, kMaxArgs = 64 };
static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}
static double q(double* v, int n, double p) { qsort(v, n, sizeof *v, cmp); return v[(int)(p * (n - 1) + 0.5)]; }
int main(int argc, char** argv) {
  if (argc != 3) { fprintf(stderr, "usage: timer N SPEC\n"); return 2; }
  int n = atoi(argv[1]);
  FILE* f = fopen(argv[2], "r");
  if (!f) { perror(argv[2]); return 2; }
  char* label[kMaxCmds]; char* args[kMaxCmds][kMaxArgs]; int ncmd = 0;
  char line[4096];
  while (ncmd < kMaxCmds && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    if (!*line) continue;
    int k = 0; char* save = NULL;
    label[ncmd] = strdup(strtok_r(line, "\t", &save));
    for (char* t; k < kMaxArgs - 1 && (t = strtok_r(NULL, "\t", &save));) args[ncmd][k++] = strdup(t);
    args[ncmd][k] = NULL; ncmd++;
  }
  double* ms = calloc((size_t)n * ncmd, sizeof(double));
  double* rss = calloc((size_t)n * ncmd, sizeof(double));
  int failed = 0;
  for (int i = 0; i < n; ++i) {
    for (int j0 = 0; j0 < ncmd; ++j0) {
      int j = (i + j0) % ncmd;
      char* argv2[kMaxArgs]; char bufs[kMaxArgs][256];
      for (int k = 0;; ++k) {
        argv2[k] = args[j][k];
        if (!args[j][k]) break;
        char* p = strstr(args[j][k], "%i");
        if (p) {
          snprintf(bufs[k], sizeof bufs[k], "%.*s%d%s", (int)(p - args[j][k]), args[j][k], i, p + 2);
          argv2[k] = bufs[k];
        }
      }
      struct timespec t0, t1; struct rusage ru; int st;
      clock_gettime(CLOCK_MONOTONIC, &t0);
      pid_t pid = fork();
      if (pid == 0) {
        int dn = open("/dev/null", O_RDWR);
        dup2(dn, 0); dup2(dn, 1); dup2(dn, 2);
        execv(argv2[0], argv2);
        _exit(127);
      }
      wait4(pid, &st, 0, &ru);
      clock_gettime(CLOCK_MONOTONIC, &t1);
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "timer: %s (iteration %d) failed: status %d\n", label[j], i, st);
        failed = 1;
      }
      ms[j * n + i] = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
      rss[j * n + i] = ru.ru_maxrss;
    }
  }
  for (int j = 0; j < ncmd; ++j) {
    double* v = ms + j * n; double* r = rss + j * n;
    double med = q(v, n, 0.5), p10 = q(v, n, 0.1), p90 = q(v, n, 0.9);
    printf("%s\t%.2f\t%.2f\t%.2f\t%.0f\n", label[j], med, p10, p90, q(r, n, 0.5));
  }
  return failed;
}
C
cc -O2 -o "$tmp/timer" "$tmp/timer.c" || die "cannot compile the timer (install gcc)"

C=("$CTR" --address "$ADDR" -n "$NS")
L=("$LCCTL" -a "$ADDR" -n "$NS")
B=("$BASE" -a "$ADDR" -n "$NS")
# The container the exec rows run in (started by ctr, used by both).
"${C[@]}" run -d --runc-root "$RUNC_ROOT" --rootfs "$ROOTFS" "$sleeper" /bin/sleep 100000 >/dev/null ||
  die "ctr run -d of the exec container failed"
row() { local IFS=$'\t'; echo "$*"; }
{
  row true /bin/true
  row "ctr --version" "$CTR" --version
  row "lcctl --version" "$LCCTL" --version
  row "ctr version" "$CTR" --address "$ADDR" version
  row "lcctl version" "$LCCTL" -a "$ADDR" version
  row "ctr run --rm" "${C[@]}" run --rm --runc-root "$RUNC_ROOT" --rootfs "$ROOTFS" "ctr-%i-$$" /bin/true
  row "lcctl run --rm" "${L[@]}" run --rm --rootfs "$ROOTFS" "lcctl-%i-$$" /bin/true
  row "ctr task exec" "${C[@]}" task exec --exec-id "ce-%i" "$sleeper" /bin/true
  row "lcctl task exec" "${L[@]}" task exec --exec-id "le-%i" "$sleeper" /bin/true
  if [[ -n $BASE ]]; then
    row "lcctl-base --version" "$BASE" --version
    row "lcctl-base version" "$BASE" -a "$ADDR" version
    row "lcctl-base run --rm" "${B[@]}" run --rm --rootfs "$ROOTFS" "base-%i-$$" /bin/true
    row "lcctl-base task exec" "${B[@]}" task exec --exec-id "be-%i" "$sleeper" /bin/true
  fi
} >"$tmp/spec"
[[ -z ${LCCTL_BASELINE_LIBS:-} ]] || export LD_LIBRARY_PATH=$LCCTL_BASELINE_LIBS
# One untimed warm-up round (page cache, the daemon's first calls), ids of its own.
sed 's/%i/w%i/g' "$tmp/spec" >"$tmp/warm"
"$tmp/timer" 1 "$tmp/warm" >/dev/null || die "a command failed in the warm-up round"
"$tmp/timer" "$ITERS" "$tmp/spec" >"$tmp/out" || die "a command failed (see above)"

declare -A med rss line
while IFS=$'\t' read -r label m p10 p90 r; do
  med[$label]=$m; rss[$label]=$r; line[$label]="$m | $p10 | $p90 | $((${r%.*} / 1024)).$(((${r%.*} % 1024) * 10 / 1024))"
done <"$tmp/out"
echo "bench/startup.sh: $ITERS alternating runs, $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "lcctl: $LCCTL ($(ldd "$LCCTL" | wc -l) shared objects)"
[[ -z $BASE ]] || echo "lcctl-base: $BASE ($(ldd "$BASE" | wc -l) shared objects)"
echo
echo "| command | median ms | p10 ms | p90 ms | peak RSS MB (median) | lcctl/ctr (time) | lcctl/ctr (RSS) |"
echo "|---|---|---|---|---|---|---|"
echo "| /bin/true | ${line[true]} | | |"
for what in "--version" "version" "run --rm" "task exec"; do
  c="ctr $what"; l="lcctl $what"
  rt=$(awk -v a="${med[$l]}" -v b="${med[$c]}" 'BEGIN{printf "%.2fx", a/b}')
  rr=$(awk -v a="${rss[$l]}" -v b="${rss[$c]}" 'BEGIN{printf "%.2fx", a/b}')
  echo "| \`$c\` | ${line[$c]} | | |"
  echo "| \`$l\` | ${line[$l]} | **$rt** | $rr |"
  b="lcctl-base $what"
  if [[ -n ${med[$b]:-} ]]; then
    rt=$(awk -v a="${med[$b]}" -v b="${med[$c]}" 'BEGIN{printf "%.2fx", a/b}')
    rr=$(awk -v a="${rss[$b]}" -v b="${rss[$c]}" 'BEGIN{printf "%.2fx", a/b}')
    echo "| \`$b\` | ${line[$b]} | $rt | $rr |"
  fi
done
