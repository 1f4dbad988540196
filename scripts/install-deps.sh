#!/usr/bin/env bash
# Installs the system packages causalgrad needs to build, skipping those already present.
#
#   scripts/install-deps.sh           install what is missing (apt-get, Debian/Ubuntu)
#   scripts/install-deps.sh --check   only report; exit 1 if anything is missing
#   scripts/install-deps.sh --mpi     also Open MPI, for the MPI build (make build-mpi)
#
# libopenblas-openmp-dev is the OpenMP build of OpenBLAS: its threads come from the same
# OpenMP runtime as our kernels, so the two never run competing thread pools.
set -euo pipefail

# clang, libomp-dev and libclang-rt-dev: the libFuzzer targets (make fuzz) and make test-clang.
packages=(cmake g++ make libopenblas-openmp-dev doctest-dev libcxxopts-dev curl ca-certificates
          clang libomp-dev libclang-rt-dev)

check_only=0
case "${1:-}" in
    "") ;;
    --check) check_only=1 ;;
    --mpi) packages+=(libopenmpi-dev openmpi-bin) ;;
    -h | --help)
        sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "install-deps: unknown argument '$1' (use --check, --mpi or --help)" >&2
        exit 2
        ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    cat <<'EOF'
deps: this is not a Debian/Ubuntu system (no dpkg/apt-get), so nothing was checked or installed.
      Install these by hand; the CMake configure step reports anything still missing:
        - a C++17 compiler with OpenMP (g++ >= 9, or clang++ with libomp)
        - CMake >= 3.16 and make
        - OpenBLAS with its cblas.h (preferably the OpenMP build)
        - doctest (with its CMake package config)
        - cxxopts (with its CMake package config)
EOF
    exit 0
fi

# This machine's architecture or "all": with a foreign one added (arm64, make test-aarch64),
# a package may be listed once per architecture.
native_arch=$(dpkg --print-architecture)
is_installed() {
    dpkg-query -W -f='${Architecture} ${Status}\n' "$1" 2>/dev/null | grep -qE "^($native_arch|all) install ok installed$"
}

missing=()
for pkg in "${packages[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
    echo "deps: all present (${packages[*]})"
    exit 0
fi

if ((check_only)); then
    echo "deps: missing ${missing[*]}"
    exit 1
fi

# apt-get needs root: run it directly as root, through sudo otherwise.
as_root=()
if ((EUID != 0)); then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "deps: missing ${missing[*]}; installing them needs root, and sudo is not available" >&2
        exit 1
    fi
    as_root=(sudo)
fi

echo "deps: installing ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
echo "deps: installed ${missing[*]}"
