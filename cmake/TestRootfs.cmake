# The busybox rootfs used by tests, demos and benchmarks: built into the build tree by the
# library's own builder (tools/mkrootfs), so the test run needs no root file system of its own.
set(LCD_TEST_ROOTFS ${CMAKE_BINARY_DIR}/rootfs/busybox)
