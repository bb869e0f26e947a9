#!/usr/bin/env bash
# Builds the firmware's C stack for this computer: MicroPython's unix port at the image's
# pin with the image's user C modules, prepared and patched by the same sources.sh as the
# image (microlite with its patches, definitions and operator list), and
# TFLM with the ESP-NN kernels compiled from the image's esp-tflite-micro and esp-nn
# releases by their own component files (host/). The camera binding is ESP32-only.
# tests/firmware_unix runs the firmware on the result.
#
#   ./build_host.sh     prints the path of the micropython binary; builds it only when no
#                       build of exactly these inputs is cached.
#
# Cache: ${XDG_CACHE_HOME:-~/.cache}/smartbin/unix-<hash of the recipe's files>/micropython,
# and tflm-<hash of what TFLM's build depends on>/ (TFLM's sources and libraries), so that a
# change to microlite or its patches does not compile TFLM again.
# Sources: sources.sh: from SMARTBIN_FW_SOURCES (a folder of source archives) when set,
# else fetched from GitHub once into the cache's sources/ folder.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SMARTBIN_IMAGE_DIR=$HERE
# shellcheck source=versions.env
. "$HERE/versions.env"
# shellcheck source=sources.sh
. "$HERE/sources.sh"

JOBS=${SMARTBIN_JOBS:-2}
CACHE_ROOT=$SMARTBIN_CACHE_ROOT  # sources.sh

die() {
    echo "make firmware-host: $*" >&2
    exit 2
}

# A short hash of recipe files (paths relative to this folder) and their contents.
files_hash() {
    (cd "$HERE" && find "$@" -type f ! -name '*~' -print0 | LC_ALL=C sort -z \
        | xargs -0 sha256sum) | sha256sum | cut -c1-16
}

# publish WORK_OUT DEST: the finished build appears at DEST at once, or not at all; when
# another build of the same inputs finished first, its result stays.
publish() {
    mv -T "$1" "$2" 2>/dev/null || [ -e "$2/done" ] || die "cannot create $2"
}

# run LOG DESCRIPTION COMMAND...: quiet unless the command fails.
run() {
    local log=$1 what=$2
    shift 2
    "$@" >"$log" 2>&1 || { tail -n 40 "$log"; die "$what failed (the end of its output is above)"; }
}

# TFLM and ESP-NN, as their component files build them for ESP-IDF (host/CMakeLists.txt).
build_tflm() {
    local dest=$1 work=$2
    prepare_source ESP_TFLITE_MICRO "$work/src/esp-tflite-micro"
    prepare_source ESP_NN "$work/src/esp-nn"
    echo "Building TFLM and ESP-NN (esp-tflite-micro $ESP_TFLITE_MICRO_VERSION, esp-nn $ESP_NN_VERSION), once: minutes"
    local idf=${ESP_IDF_VERSION#v}
    run "$work/tflm.log" "configuring TFLM" cmake -S "$HERE/host" -B "$work/build" \
        -G "Unix Makefiles" -DSMARTBIN_FW_SRC="$work/src" \
        -DSMARTBIN_HOST_INCLUDE="$HERE/host/include" \
        -DSMARTBIN_OPS_RESOLVER="$HERE/user_modules/microlite/ops_resolver.cpp" \
        -DSMARTBIN_IDF_VERSION_MAJOR="${idf%%.*}" \
        -DSMARTBIN_IDF_VERSION_MINOR="$(echo "$idf" | cut -d. -f2)"
    run "$work/tflm.log" "compiling TFLM" cmake --build "$work/build" -j "$JOBS"
    mkdir -p "$work/lib"
    cp "$work/build/esp-tflite-micro/libesp-tflite-micro.a" "$work/build/esp-nn/libesp-nn.a" "$work/lib/"
    rm -rf "$work/build"
    touch "$work/done"
    publish "$work" "$dest"
}

for tool in cmake make gcc g++ git tar sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || die "needs $tool (Debian/Ubuntu: apt-get install build-essential cmake git)"
done

OUT=$CACHE_ROOT/unix-$(files_hash versions.env sources.sh build_host.sh patches user_modules host)
# TFLM depends on its pins (the archives are checked), its build files and the operator list
TFLM=$CACHE_ROOT/tflm-$(files_hash versions.env host user_modules/microlite/ops_resolver.cpp)
if [ -e "$OUT/done" ]; then
    echo "$OUT/micropython"
    exit 0
fi

mkdir -p "$CACHE_ROOT"
WORK=$(mktemp -d "$CACHE_ROOT/unix-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
SRC=$WORK/src
# Variables of an outer make (make test BUILD=...) must not reach MicroPython's.
unset MAKEFLAGS MFLAGS MAKELEVEL BUILD BOARD_DIR FROZEN_MANIFEST USER_C_MODULES

{
    echo "Preparing sources in $SRC (from $(archives_dir))"
    prepare_source MICROPYTHON "$SRC/micropython"
    prepare_source MICROLITE "$SRC/tensorflow-micropython-examples"
    [ -e "$TFLM/done" ] || build_tflm "$TFLM" "$WORK/tflm"

    # not stripped: tests read the symbol table (which resolver, how big)
    echo "Building MicroPython $MICROPYTHON_TAG (unix port) with microlite"
    run "$WORK/micropython.log" "building MicroPython with the user modules" \
        make -C "$SRC/micropython/ports/unix" -j"$JOBS" \
        MICROPY_PY_BTREE=0 MICROPY_PY_SSL=0 MICROPY_PY_FFI=0 FROZEN_MANIFEST= \
        CWARN="-Wall -Wno-error" USER_C_MODULES="$HERE/user_modules" STRIP= \
        SMARTBIN_FW_SRC="$SRC" SMARTBIN_TFLM="$TFLM"

    mkdir "$WORK/out"
    cp "$SRC/micropython/ports/unix/build-standard/micropython" "$WORK/out/micropython"
    touch "$WORK/out/done"
    publish "$WORK/out" "$OUT"
} >&2

echo "$OUT/micropython"
