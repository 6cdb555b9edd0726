#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds tests/consumer against it with
# find_package(libcontainerd); then runs the consumer.
set -euo pipefail
src=$1; build=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
# No gRPC or protobuf header may reach the installed public headers.
if grep -rlE '#include <(grpc|google/protobuf)' "$tmp/prefix/include/libcontainerd"; then
  echo "public headers include gRPC/protobuf" >&2; exit 1
fi
cmake -S "$src/tests/consumer" -B "$tmp/b" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/b" >/dev/null
LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib/x86_64-linux-gnu" "$tmp/b/consumer"
