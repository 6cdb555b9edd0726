# lcd_grpc_static: gRPC (without TLS: the library only speaks to unix sockets), protobuf, abseil,
# re2, c-ares, upb and zlib as Debian's static archives, for lcctl (start-up: no 50 shared
# objects to map and relocate; bench/startup.sh). Executables only: Debian's archives use the
# local-exec TLS model, which a shared object cannot.
pkg_check_modules(LCD_GRPC_STATIC REQUIRED grpc++_unsecure protobuf)
# grpc_unsecure.pc leaves out what its archive needs from these.
set(lcd_grpc_static_names ${LCD_GRPC_STATIC_STATIC_LIBRARIES} upb re2 cares address_sorting z)
list(REMOVE_DUPLICATES lcd_grpc_static_names)
set(lcd_grpc_static_archives)
set(lcd_grpc_static_system)
foreach(name IN LISTS lcd_grpc_static_names)
  find_library(LCD_STATIC_${name} NAMES lib${name}.a
    HINTS ${LCD_GRPC_STATIC_STATIC_LIBRARY_DIRS} NO_CACHE)
  if(LCD_STATIC_${name} AND NOT name MATCHES "^(rt|atomic|pthread|dl|m)$")
    list(APPEND lcd_grpc_static_archives ${LCD_STATIC_${name}})
  else()
    list(APPEND lcd_grpc_static_system ${name})  # rt, atomic: system libraries
  endif()
endforeach()
add_library(lcd_grpc_static INTERFACE)
target_include_directories(lcd_grpc_static SYSTEM INTERFACE ${LCD_GRPC_STATIC_STATIC_INCLUDE_DIRS})
# One group: the archives refer to each other in both directions.
target_link_libraries(lcd_grpc_static INTERFACE
  "-Wl,--start-group" ${lcd_grpc_static_archives} "-Wl,--end-group" ${lcd_grpc_static_system}
  Threads::Threads)
