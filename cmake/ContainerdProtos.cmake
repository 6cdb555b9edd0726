# Generates C++ and gRPC code for the containerd 1.6 API from the .proto files that Debian's
# golang-github-containerd-*-dev packages install. Copies live in the build tree only.
find_program(LCD_PROTOC protoc REQUIRED)
find_program(LCD_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
find_program(LCD_PERL perl REQUIRED)

set(LCD_GOCODE "/usr/share/gocode/src" CACHE PATH "Root of Debian's Go sources (proto definitions)")
set(LCD_CTRD "github.com/containerd/containerd")
set(LCD_PROTO_FILES
  ${LCD_CTRD}/api/types/mount.proto
  ${LCD_CTRD}/api/types/metrics.proto
  ${LCD_CTRD}/api/types/descriptor.proto
  ${LCD_CTRD}/api/types/task/task.proto
  ${LCD_CTRD}/api/services/version/v1/version.proto
  ${LCD_CTRD}/api/services/containers/v1/containers.proto
  ${LCD_CTRD}/api/services/tasks/v1/tasks.proto
  ${LCD_CTRD}/api/services/events/v1/events.proto
  ${LCD_CTRD}/api/services/content/v1/content.proto
  ${LCD_CTRD}/api/services/images/v1/images.proto
  ${LCD_CTRD}/api/services/snapshots/v1/snapshots.proto
  ${LCD_CTRD}/api/services/diff/v1/diff.proto
  ${LCD_CTRD}/api/services/leases/v1/leases.proto
  ${LCD_CTRD}/api/events/task.proto
  ${LCD_CTRD}/runtime/v2/runc/options/oci.proto
  github.com/containerd/cgroups/stats/v1/metrics.proto
  github.com/containerd/cgroups/v2/stats/metrics.proto
  grpc/health/v1/health.proto
)
# Services whose files also get gRPC stubs.
set(LCD_GRPC_FILES
  ${LCD_CTRD}/api/services/version/v1/version.proto
  ${LCD_CTRD}/api/services/containers/v1/containers.proto
  ${LCD_CTRD}/api/services/tasks/v1/tasks.proto
  ${LCD_CTRD}/api/services/events/v1/events.proto
  ${LCD_CTRD}/api/services/content/v1/content.proto
  ${LCD_CTRD}/api/services/images/v1/images.proto
  ${LCD_CTRD}/api/services/snapshots/v1/snapshots.proto
  ${LCD_CTRD}/api/services/diff/v1/diff.proto
  ${LCD_CTRD}/api/services/leases/v1/leases.proto
  grpc/health/v1/health.proto
)
set(LCD_HEALTH_SRC "${LCD_GOCODE}/google.golang.org/grpc/debian/missing-sources/grpc/grpc-proto/master/grpc/health/v1/health.proto")

set(LCD_PROTO_DIR ${CMAKE_BINARY_DIR}/proto)
set(LCD_GEN_DIR ${CMAKE_BINARY_DIR}/gen)
file(MAKE_DIRECTORY ${LCD_GEN_DIR})

set(LCD_PROTO_SRCS)
foreach(rel IN LISTS LCD_PROTO_FILES)
  if(rel STREQUAL "grpc/health/v1/health.proto")
    set(src ${LCD_HEALTH_SRC})
  else()
    set(src ${LCD_GOCODE}/${rel})
  endif()
  if(NOT EXISTS ${src})
    message(FATAL_ERROR "Missing ${src}: run scripts/setup (it installs golang-github-containerd-containerd-dev, golang-github-containerd-cgroups-dev and golang-google-grpc-dev)")
  endif()
  set(copy ${LCD_PROTO_DIR}/${rel})
  get_filename_component(copy_dir ${copy} DIRECTORY)
  string(REGEX REPLACE "\\.proto$" "" base ${rel})
  set(outs ${LCD_GEN_DIR}/${base}.pb.cc ${LCD_GEN_DIR}/${base}.pb.h)
  set(plugin_args)
  if(rel IN_LIST LCD_GRPC_FILES)
    list(APPEND outs ${LCD_GEN_DIR}/${base}.grpc.pb.cc ${LCD_GEN_DIR}/${base}.grpc.pb.h)
    set(plugin_args --grpc_out=${LCD_GEN_DIR} --plugin=protoc-gen-grpc=${LCD_GRPC_CPP_PLUGIN})
  endif()
  # The lite runtime registers nothing in protobuf's process-wide descriptor pool, so a program
  # may link its own (full) copy of containerd's generated code, under the same file and
  # message names, beside the library (tests/consumer); it is also less code to load and no
  # descriptor work at start-up (issue 20). The cgroups metrics stay full: the stats decoder
  # reads fields newer than these protos through reflection (src/stats/stats.cc), and unit
  # tests fill every field through it; nothing imports them.
  set(lite LITE)
  if(rel MATCHES "^github.com/containerd/cgroups/")
    set(lite)
  endif()
  add_custom_command(
    OUTPUT ${copy}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${copy_dir}
    COMMAND ${LCD_PERL} ${CMAKE_SOURCE_DIR}/cmake/strip-gogoproto.pl ${src} ${copy} ${lite}
    DEPENDS ${src} ${CMAKE_SOURCE_DIR}/cmake/strip-gogoproto.pl
    COMMENT "Copying ${rel} (gogoproto stripped)" VERBATIM)
  list(APPEND LCD_PROTO_COPIES ${copy})
  list(APPEND LCD_PROTO_OUTS_${base} ${outs})
  list(APPEND LCD_PROTO_GEN_PAIRS "${rel}")
  list(APPEND LCD_PROTO_SRCS ${outs})
  set(LCD_PLUGIN_ARGS_${base} ${plugin_args})
endforeach()

# One protoc run per file; each depends on all copies (imports).
foreach(rel IN LISTS LCD_PROTO_FILES)
  string(REGEX REPLACE "\\.proto$" "" base ${rel})
  add_custom_command(
    OUTPUT ${LCD_PROTO_OUTS_${base}}
    COMMAND ${LCD_PROTOC} -I${LCD_PROTO_DIR} -I/usr/include --cpp_out=${LCD_GEN_DIR} ${LCD_PLUGIN_ARGS_${base}} ${LCD_PROTO_DIR}/${rel}
    DEPENDS ${LCD_PROTO_COPIES}
    COMMENT "protoc ${rel}" VERBATIM)
endforeach()

# Objects, not an archive: they go into both the shared and the static library (src/). Compiled
# with hidden visibility, so the shared library never exports a generated type: a program may
# link its own copy of containerd's generated code beside libcontainerd (tests/consumer).
add_library(lcd_proto OBJECT ${LCD_PROTO_SRCS})
target_include_directories(lcd_proto SYSTEM PUBLIC $<BUILD_INTERFACE:${LCD_GEN_DIR}>)
target_link_libraries(lcd_proto PUBLIC PkgConfig::GRPCPP)
set_target_properties(lcd_proto PROPERTIES POSITION_INDEPENDENT_CODE ON
  CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
# Generated code is protobuf's, not ours: sanitizer builds leave it uninstrumented (it halves
# their compile time; our code that calls it is still checked). TSan keeps it instrumented so
# it sees every access.
if(LIBCONTAINERD_ASAN OR LIBCONTAINERD_FUZZ)
  target_compile_options(lcd_proto PRIVATE -fno-sanitize=all -O1)
endif()
