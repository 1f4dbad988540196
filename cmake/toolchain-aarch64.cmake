# Cross-compiling for 64-bit ARM Linux from an x86-64 Debian/Ubuntu machine:
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake
# needs g++-aarch64-linux-gnu, and the arm64 OpenBLAS and libstdc++ of the multiarch
# archive (dpkg --add-architecture arm64; libopenblas-openmp-dev:arm64 libstdc++6:arm64);
# tests/aarch64.sh installs them and runs the binaries under qemu-aarch64.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# The arm64 packages install into /usr/lib/aarch64-linux-gnu and /usr/include/aarch64-linux-gnu
# (multiarch), not under a sysroot, so the usual /usr prefixes are searched with this arch's
# subdirs. doctest's and cxxopts's CMake packages are architecture-independent, in /usr too.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# The build machine's CPU says nothing about the target's: a portable build.
set(CAUSALGRAD_NATIVE OFF CACHE BOOL "Tune for this machine's CPU (-mcpu=native on ARM)")
# CTest (and try_run) start the binaries through qemu.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
