# OpenBLAS, found the way causalgrad needs it, as the imported target OpenBLAS::OpenBLAS.
# CMakeLists.txt reads this file, and so does find_package(causalgrad) (it is installed next
# to causalgradConfig.cmake), so a program linking causalgrad::core gets the same library.
#
# OpenBLAS ships no CMake package on every distro, so look for it by hand. Its own header dir
# comes first: on Debian /usr/include/<arch>/cblas.h is an alternatives link that may point at
# another BLAS, while .../openblas-openmp/cblas.h is always OpenBLAS's (the OpenMP build).
# The library is searched the same way; linking the openblas-openmp copy by full path also puts
# that dir on the binaries' run path, so the OpenMP build is loaded whatever the alternative says.
#
# causalgrad_find_openblas(ERROR_VAR): ERROR_VAR is left empty on success, else set to what
# is wrong and how to fix it (the caller fails as it must: a fatal error, or a package not
# found). CBLAS_INCLUDE_DIR and OPENBLAS_LIBRARY are cache entries: -D sets them by hand.
function(causalgrad_find_openblas error_var)
  set(${error_var} "" PARENT_SCOPE)
  if(TARGET OpenBLAS::OpenBLAS)
    return()
  endif()
  set(_suffixes ${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp openblas-openmp openblas)
  find_path(CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES ${_suffixes})
  find_library(OPENBLAS_LIBRARY NAMES openblaso openblas PATH_SUFFIXES ${_suffixes})

  set(_hint "install the OpenMP build of OpenBLAS (Debian/Ubuntu: libopenblas-openmp-dev; \
macOS: brew install openblas, then -DCMAKE_PREFIX_PATH=$(brew --prefix openblas)), \
or point CMake at it with -DCBLAS_INCLUDE_DIR=... -DOPENBLAS_LIBRARY=...")
  if(NOT OPENBLAS_LIBRARY)
    set(${error_var} "OpenBLAS library not found: ${_hint}" PARENT_SCOPE)
    return()
  endif()
  if(NOT CBLAS_INCLUDE_DIR)
    set(${error_var} "cblas.h not found: ${_hint}" PARENT_SCOPE)
    return()
  endif()
  # Another BLAS's cblas.h would compile too, but lacks OpenBLAS's own calls (openblas_get_num_threads...).
  file(READ "${CBLAS_INCLUDE_DIR}/cblas.h" _cblas_text)
  string(FIND "${_cblas_text}" "openblas_get_corename" _cblas_is_openblas)
  if(_cblas_is_openblas EQUAL -1)
    set(${error_var} "${CBLAS_INCLUDE_DIR}/cblas.h is not OpenBLAS's header (no openblas_get_corename): ${_hint}"
        PARENT_SCOPE)
    return()
  endif()

  # The pthread build runs its own thread pool next to OpenMP's; it works, but oversubscribes cores.
  get_filename_component(_real "${OPENBLAS_LIBRARY}" REALPATH)
  if(_real MATCHES "openblas-pthread")
    message(WARNING "using the pthread build of OpenBLAS (${_real}); its threads will "
                    "compete with OpenMP's. Install libopenblas-openmp-dev instead.")
  endif()

  add_library(OpenBLAS::OpenBLAS UNKNOWN IMPORTED)
  set_target_properties(OpenBLAS::OpenBLAS PROPERTIES
      IMPORTED_LOCATION "${OPENBLAS_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${CBLAS_INCLUDE_DIR}")
endfunction()
