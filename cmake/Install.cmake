include(CMakePackageConfigHelpers)
install(TARGETS libcontainerd libcontainerd_static EXPORT libcontainerdTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/libcontainerd DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT libcontainerdTargets NAMESPACE libcontainerd::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/libcontainerd)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/libcontainerdConfig.cmake.in
  ${CMAKE_BINARY_DIR}/libcontainerdConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/libcontainerd)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/libcontainerdConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/libcontainerdConfig.cmake
  ${CMAKE_BINARY_DIR}/libcontainerdConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/libcontainerd)
configure_file(${PROJECT_SOURCE_DIR}/cmake/libcontainerd.pc.in ${CMAKE_BINARY_DIR}/libcontainerd.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/libcontainerd.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
