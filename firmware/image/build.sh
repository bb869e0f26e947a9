#!/usr/bin/env bash
# Builds the smartbin MicroPython image (microlite/TFLM + camera, application frozen)
# for the AI-Thinker ESP32-CAM, from the sources pinned in versions.env.
#
#   ./build.sh            Docker engine up: build inside espressif/idf:<ESP_IDF_VERSION>;
#                         else IDF_PATH set: build with that ESP-IDF; else say what to install.
#   ./build.sh --inside   build here, with an ESP-IDF environment (what the container runs).
#
# Sources: sources.sh, shared with the unix build (build_host.sh): from SMARTBIN_FW_SOURCES
# (a folder of `git archive` tarballs) when set, else fetched from GitHub at the same pins
# once into ${SMARTBIN_CACHE:-${XDG_CACHE_HOME:-~/.cache}/smartbin}/sources/.
# Result: build/firmware.bin (bootloader + partition table + app, flashed at 0x1000).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=versions.env
. "$HERE/versions.env"
# shellcheck source=sources.sh
. "$HERE/sources.sh"

BOARD=SMARTBIN_AITHINKER_ESP32CAM
IMAGE_SOURCES="MICROPYTHON MICROLITE CAMERA_API ESP32_CAMERA"
WORK_DIR=${SMARTBIN_FW_BUILD:-$HERE/build}
SRC=$WORK_DIR/src
DOCKER=${DOCKER:-docker}

die() {
    echo "make firmware: $*" >&2
    exit 2
}

# ---- choose where to build -----------------------------------------------------------
outside() {
    if command -v "$DOCKER" >/dev/null 2>&1 && "$DOCKER" info >/dev/null 2>&1; then
        local image="$ESP_IDF_IMAGE:$ESP_IDF_VERSION" name sources
        # the container reads the archives from this computer's folder (fetched here once)
        for name in $IMAGE_SOURCES; do
            source_archive "$name"
        done
        sources=$(archives_dir)
        echo "Building in $image (Docker)"
        # The repository is mounted at the same path, so error messages name real files.
        exec "$DOCKER" run --rm \
            --user "$(id -u):$(id -g)" -e HOME=/tmp \
            -e SMARTBIN_FW_BUILD="$WORK_DIR" \
            ${SMARTBIN_FW_SOURCES:+-e SMARTBIN_FW_SOURCES="$SMARTBIN_FW_SOURCES"} \
            -e SMARTBIN_CACHE="$SMARTBIN_CACHE_ROOT" -v "$sources:$sources:ro" \
            -v "$REPO:$REPO" -w "$HERE" \
            "$image" bash "$HERE/build.sh" --inside
    fi
    if [ -n "${IDF_PATH:-}" ]; then
        if ! command -v idf.py >/dev/null 2>&1; then
            [ -f "$IDF_PATH/export.sh" ] || die "IDF_PATH=$IDF_PATH has no export.sh; point IDF_PATH at an ESP-IDF $ESP_IDF_VERSION checkout"
            # shellcheck disable=SC1091
            . "$IDF_PATH/export.sh" >/dev/null
        fi
        exec bash "$HERE/build.sh" --inside
    fi
    die "needs a running Docker engine (https://docs.docker.com/engine/install/) or ESP-IDF $ESP_IDF_VERSION with IDF_PATH set (https://docs.espressif.com/projects/esp-idf/en/$ESP_IDF_VERSION/esp32/get-started/); found neither"
}

inside() {
    command -v idf.py >/dev/null 2>&1 || die "idf.py not found: run inside the ESP-IDF container or source \$IDF_PATH/export.sh"
    local idf_version
    idf_version=$(idf.py --version 2>/dev/null | tr -d '\r' || true)
    case "$idf_version" in
        *"$ESP_IDF_VERSION"*) ;;
        *) echo "warning: this ESP-IDF reports '$idf_version'; the pinned one is $ESP_IDF_VERSION" >&2 ;;
    esac

    mkdir -p "$SRC"
    local mpy=$SRC/micropython
    echo "Preparing pinned sources in $SRC (from $(archives_dir))"
    prepare_source MICROPYTHON "$mpy"
    prepare_source MICROLITE "$SRC/tensorflow-micropython-examples"  # and patches/
    prepare_source CAMERA_API "$SRC/micropython-camera-API"

    local port=$mpy/ports/esp32
    # esp32-camera as a project component named "esp32-camera": the camera binding's
    # cmake looks the component up by that name.
    mkdir -p "$port/components"
    prepare_source ESP32_CAMERA "$port/components/esp32-camera"

    # TFLM + ESP-NN from the ESP Component Registry, exact versions, as dependencies of
    # MicroPython's main component (whose sources include the user C modules).
    local manifest=$port/main/idf_component.yml
    [ -f "$manifest" ] || manifest=$port/main_esp32/idf_component.yml
    [ -f "$manifest" ] || die "no idf_component.yml under $port/main*/ (MicroPython layout changed?)"
    cat >>"$manifest" <<YAML
  espressif/esp-tflite-micro:
    version: "==$ESP_TFLITE_MICRO_VERSION"
  espressif/esp-nn:
    version: "==$ESP_NN_VERSION"
YAML

    # The board definition goes where MicroPython's build looks for BOARD=.
    rm -rf "$port/boards/$BOARD"
    cp -r "$HERE/boards/$BOARD" "$port/boards/$BOARD"

    # Variables of an outer make (make firmware BUILD=...) must not reach MicroPython's.
    unset MAKEFLAGS MFLAGS MAKELEVEL BUILD BOARD_DIR FROZEN_MANIFEST USER_C_MODULES

    echo "Building mpy-cross"
    make -C "$mpy/mpy-cross" -j"$(nproc)"

    echo "Building the port (BOARD=$BOARD)"
    export SMARTBIN_FW_SRC=$SRC
    make -C "$port" BOARD="$BOARD" submodules
    # What the port's Makefile runs for BOARD=, USER_C_MODULES= and FROZEN_MANIFEST=,
    # spelled out: idf.py, then makeimg.py joins bootloader, partition table and app.
    local out=build-$BOARD
    (cd "$port" && idf.py \
        -D MICROPY_BOARD="$BOARD" \
        -D USER_C_MODULES="$HERE/user_modules/micropython.cmake" \
        -D MICROPY_FROZEN_MANIFEST="$REPO/firmware/manifest.py" \
        -B "$out" build)
    (cd "$port/$out" && python ../makeimg.py sdkconfig bootloader/bootloader.bin \
        partition_table/partition-table.bin micropython.bin firmware.bin micropython.uf2)

    cp "$port/$out/firmware.bin" "$WORK_DIR/firmware.bin"
    echo "Firmware image: $WORK_DIR/firmware.bin (flash at 0x1000: make flash PORT=... FIRMWARE=$WORK_DIR/firmware.bin)"
}

case "${1:-}" in
    --inside) inside ;;
    "") outside ;;
    *) die "unknown argument '$1' (use no argument, or --inside within an ESP-IDF environment)" ;;
esac
