# Upstream sources at the pins of versions.env, patched: the one source-preparation step
# of the ESP32 image (build.sh) and of the unix build (build_host.sh). Source this file
# after versions.env, with a die() that prints one line and exits.
#
#   source_archive NAME        SOURCE_ARCHIVE becomes the path of source NAME's `git archive`
#                              tarball (NAME_URL, NAME_COMMIT, NAME_ARCHIVE... in
#                              versions.env). With SMARTBIN_FW_SOURCES=DIR set, DIR/$NAME_ARCHIVE
#                              (its SHA256 and the commit it records checked); else
#                              $SMARTBIN_CACHE_ROOT/sources/$NAME_ARCHIVE, fetched from NAME_URL
#                              at its tag or commit the first time (commit checked; the
#                              SHA256 of a tarball made here depends on the local git, so the
#                              commit it records is what is checked).
#   prepare_source NAME DEST   DEST becomes a clean copy of source NAME from that archive,
#                              then patched if it is microlite.
#
# Run as a command, `bash sources.sh archives` makes sure every source of versions.env has
# its archive and prints the folder that holds them (what the tests read).

SMARTBIN_IMAGE_DIR=${SMARTBIN_IMAGE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
SMARTBIN_CACHE_ROOT=${SMARTBIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/smartbin}

# The folder of source archives: SMARTBIN_FW_SOURCES, else the cache.
archives_dir() {
    echo "${SMARTBIN_FW_SOURCES:-$SMARTBIN_CACHE_ROOT/sources}"
}

# The git ref to fetch: the release tag (NAME_TAG, or v + NAME_VERSION), else the commit.
source_ref() {
    local name=$1 tag_var=${1}_TAG version_var=${1}_VERSION commit_var=${1}_COMMIT
    if [ -n "${!tag_var:-}" ]; then
        echo "${!tag_var}"
    elif [ -n "${!version_var:-}" ]; then
        echo "v${!version_var}"
    else
        echo "${!commit_var}"
    fi
}

# The commit a `git archive` tarball records, or "none".
# (git reads only the header: gzip may die of SIGPIPE, which is fine)
archive_commit() {
    { gzip -dc "$1" 2>/dev/null || true; } | git get-tar-commit-id 2>/dev/null || echo none
}

source_archive() {
    local name=$1
    local url_var=${name}_URL commit_var=${name}_COMMIT
    local archive_var=${name}_ARCHIVE sha_var=${name}_ARCHIVE_SHA256
    [ -n "${!url_var:-}" ] && [ -n "${!commit_var:-}" ] && [ -n "${!archive_var:-}" ] \
        || die "versions.env has no ${name}_URL, ${name}_COMMIT or ${name}_ARCHIVE"
    SOURCE_ARCHIVE=$(archives_dir)/${!archive_var}
    if [ -z "${SMARTBIN_FW_SOURCES:-}" ]; then
        # made here from the pinned commit; made again if it records another one
        [ -f "$SOURCE_ARCHIVE" ] && [ "$(archive_commit "$SOURCE_ARCHIVE")" = "${!commit_var}" ] \
            || fetch_archive "$name" "$SOURCE_ARCHIVE"
        return 0
    fi
    [ -f "$SOURCE_ARCHIVE" ] \
        || die "SMARTBIN_FW_SOURCES=$SMARTBIN_FW_SOURCES has no ${!archive_var} (${name} at ${!commit_var})"
    local sum archived
    sum=$(sha256sum "$SOURCE_ARCHIVE" | cut -d' ' -f1)
    [ "$sum" = "${!sha_var:-}" ] \
        || die "$SOURCE_ARCHIVE: SHA256 $sum is not the ${name}_ARCHIVE_SHA256 of versions.env"
    # `git archive` records the commit it was made from; it must be the pinned one
    archived=$(archive_commit "$SOURCE_ARCHIVE")
    [ "$archived" = "${!commit_var}" ] \
        || die "$SOURCE_ARCHIVE: made from commit $archived, not the ${name}_COMMIT of versions.env"
}

# fetch_archive NAME ARCHIVE: NAME_URL at its tag or commit, checked against NAME_COMMIT,
# as a `git archive` tarball at ARCHIVE (written whole or not at all).
fetch_archive() {
    local name=$1 archive=$2 url_var=${1}_URL commit_var=${1}_COMMIT
    local ref folder=${2%/*}
    ref=$(source_ref "$name")
    mkdir -p "$folder" || die "cannot create $folder"
    (
        work=$(mktemp -d "$folder/.fetch.XXXXXX") || die "cannot write in $folder"
        trap 'rm -rf "$work"' EXIT
        echo "Fetching ${name} $ref from ${!url_var} (once: kept in $folder)" >&2
        git init -q --bare "$work/git" || die "git init failed in $work"
        git -C "$work/git" fetch -q --depth 1 "${!url_var}" "$ref" 2>"$work/fetch.log" \
            || die "cannot fetch ${name} $ref from ${!url_var}: $(tail -n 1 "$work/fetch.log") (offline? set SMARTBIN_FW_SOURCES to a folder of source archives)"
        local head base=${archive##*/}
        head=$(git -C "$work/git" rev-parse --verify -q 'FETCH_HEAD^{commit}') || head=none
        [ "$head" = "${!commit_var}" ] \
            || die "${name} $ref from ${!url_var} is commit $head, not the ${name}_COMMIT of versions.env"
        git -C "$work/git" archive --format=tar.gz --prefix="${base%.tar.gz}/" \
            -o "$work/archive.tar.gz" "$head" || die "git archive of ${name} failed"
        mv -f "$work/archive.tar.gz" "$archive" || die "cannot write $archive"
    ) || exit $?
}

prepare_source() {
    local name=$1 dest=$2
    source_archive "$name"
    rm -rf "$dest"
    mkdir -p "$dest"
    tar -xzf "$SOURCE_ARCHIVE" --strip-components=1 -C "$dest" \
        || die "$SOURCE_ARCHIVE: not a readable .tar.gz"
    git init -q "$dest"  # so that `git apply` patches this tree, not an enclosing one
    if [ "$name" = MICROLITE ]; then
        apply_patches "$dest"
    fi
}

# The microlite patches, in name order; line endings normalised first so that a patch
# does not depend on them.
apply_patches() {
    local dest=$1 patch target
    for patch in "$SMARTBIN_IMAGE_DIR"/patches/microlite-*.patch; do
        for target in $(sed -n 's|^+++ b/||p' "$patch"); do
            [ -f "$dest/$target" ] && sed -i 's/\r$//' "$dest/$target"
        done
        git -C "$dest" apply --whitespace=nowarn "$patch" \
            || die "patch $(basename "$patch") does not apply to microlite $MICROLITE_COMMIT"
    done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    die() {
        echo "firmware sources: $*" >&2
        exit 2
    }
    [ "$*" = archives ] || die "usage: bash sources.sh archives"
    # shellcheck source=versions.env
    . "$SMARTBIN_IMAGE_DIR/versions.env"
    for name in $(sed -n 's/^\([A-Z][A-Z0-9_]*\)_URL=.*/\1/p' "$SMARTBIN_IMAGE_DIR/versions.env"); do
        source_archive "$name"
    done
    (cd "$(archives_dir)" && pwd)
fi
