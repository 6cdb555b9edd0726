#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds tests/consumer against it with
# find_package(libcontainerd); then runs the consumer. Checks first that the installed headers
# need no gRPC or protobuf and that the shared library exports the public API only.
set -euo pipefail
src=$1; build=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
# No gRPC or protobuf header may reach the installed public headers.
if grep -rlE '#include <(grpc|google/protobuf)' "$tmp/prefix/include/libcontainerd"; then
  echo "public headers include gRPC/protobuf" >&2; exit 1
fi
# The shared library exports only the public API (include/libcontainerd/export.h): no
# generated containerd type, no gRPC, protobuf or abseil symbol, and none of the library's
# internal namespaces.
so=$(find "$tmp/prefix" -name 'libcontainerd-cxx.so.*.*' -type f | head -n1)
[[ -n $so ]] || { echo "no libcontainerd-cxx.so installed" >&2; exit 1; }
[[ -n $(find "$tmp/prefix" -name 'libcontainerd-cxx.a' -type f) ]] ||
  { echo "no libcontainerd-cxx.a installed" >&2; exit 1; }
nm -DC --defined-only "$so" | cut -d' ' -f3- >"$tmp/exports"
grep -q 'libcontainerd::NewContainerdClient' "$tmp/exports" ||
  { echo "$so does not export libcontainerd::NewContainerdClient" >&2; exit 1; }
forbidden='google::protobuf|grpc|gpr_|absl|(^|[^[:alnum:]_])(containerd|io::containerd)::'
forbidden+='|libcontainerd::(remote|events|supervisor|text|detail|oci::detail|net::cni)::|DirectIOControl'
if grep -E "$forbidden" "$tmp/exports" >"$tmp/bad"; then
  echo "$so exports $(wc -l <"$tmp/bad") private symbols, e.g.:" >&2; head -n 20 "$tmp/bad" >&2; exit 1
fi
# Everything else it exports names a libcontainerd declaration (a public function, or the
# typeinfo/vtable of a public class, or a std template instantiated for one).
if grep -vE 'libcontainerd::|^(_init|_fini|_edata|_end|__bss_start)$' "$tmp/exports" >"$tmp/bad"; then
  echo "$so exports $(wc -l <"$tmp/bad") symbols outside libcontainerd::, e.g.:" >&2
  head -n 20 "$tmp/bad" >&2; exit 1
fi
echo "$(wc -l <"$tmp/exports") exported symbols, all of the public API"
# The consumer's own copies of three containerd protos, for protobuf's full runtime (the
# library's are lite: cmake/ContainerdProtos.cmake).
gocode=/usr/share/gocode/src
for p in api/services/version/v1/version api/types/mount api/events/task; do
  mkdir -p "$(dirname "$tmp/proto/github.com/containerd/containerd/$p")"
  perl "$src/cmake/strip-gogoproto.pl" "$gocode/github.com/containerd/containerd/$p.proto" \
    "$tmp/proto/github.com/containerd/containerd/$p.proto"
done
cmake -S "$src/tests/consumer" -B "$tmp/b" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DLCD_PROTO_ROOT="$tmp/proto" >/dev/null
cmake --build "$tmp/b" >/dev/null
LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib/x86_64-linux-gnu" "$tmp/b/consumer"
# The static archive works too, and then no libcontainerd shared object is needed.
if ldd "$tmp/b/consumer_static" | grep -q libcontainerd; then
  echo "consumer_static needs libcontainerd's shared object" >&2; exit 1
fi
"$tmp/b/consumer_static"
