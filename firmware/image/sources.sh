# Upstream sources at the pins of versions.env, patched: the one source-preparation step
# of the ESP32 image (build.sh) and of the unix build (build_host.sh). Source this file
# after versions.env, with a die() that prints one line and exits.
#
#   prepare_source NAME DEST   DEST becomes a clean copy of source NAME (NAME_URL,
#                              NAME_COMMIT, ... in versions.env), then patched if it is
#                              microlite. With SMARTBIN_FW_SOURCES=DIR set, from
#                              DIR/$NAME_ARCHIVE (a `git archive` tarball; its SHA256 and
#                              the commit it records checked);
#                              else fetched from NAME_URL at its tag or commit (commit checked).

SMARTBIN_IMAGE_DIR=${SMARTBIN_IMAGE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}

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

prepare_source() {
    local name=$1 dest=$2
    local url_var=${name}_URL commit_var=${name}_COMMIT
    local archive_var=${name}_ARCHIVE sha_var=${name}_ARCHIVE_SHA256
    [ -n "${!url_var:-}" ] && [ -n "${!commit_var:-}" ] \
        || die "versions.env has no ${name}_URL or ${name}_COMMIT"
    rm -rf "$dest"
    mkdir -p "$dest"
    if [ -n "${SMARTBIN_FW_SOURCES:-}" ]; then
        [ -n "${!archive_var:-}" ] || die "versions.env has no ${name}_ARCHIVE"
        local archive=$SMARTBIN_FW_SOURCES/${!archive_var}
        [ -f "$archive" ] || die "SMARTBIN_FW_SOURCES=$SMARTBIN_FW_SOURCES has no ${!archive_var} (${name} at ${!commit_var})"
        local sum
        sum=$(sha256sum "$archive" | cut -d' ' -f1)
        [ "$sum" = "${!sha_var:-}" ] \
            || die "$archive: SHA256 $sum is not the ${name}_ARCHIVE_SHA256 of versions.env"
        # `git archive` records the commit it was made from; it must be the pinned one
        local archived
        # (git reads only the header: gzip may die of SIGPIPE, which is fine)
        archived=$({ gzip -dc "$archive" 2>/dev/null || true; } | git get-tar-commit-id) \
            || archived="none"
        [ "$archived" = "${!commit_var}" ] \
            || die "$archive: made from commit $archived, not the ${name}_COMMIT of versions.env"
        tar -xzf "$archive" --strip-components=1 -C "$dest" \
            || die "$archive: not a readable .tar.gz"
        git init -q "$dest"  # so that `git apply` patches this tree, not an enclosing one
    else
        local ref
        ref=$(source_ref "$name")
        git init -q "$dest"
        git -C "$dest" remote add origin "${!url_var}"
        git -C "$dest" fetch -q --depth 1 origin "$ref" \
            || die "cannot fetch ${name} $ref from ${!url_var} (offline? set SMARTBIN_FW_SOURCES to a folder of source archives)"
        git -C "$dest" -c advice.detachedHead=false checkout -q --force FETCH_HEAD
        local head
        head=$(git -C "$dest" rev-parse HEAD)
        [ "$head" = "${!commit_var}" ] \
            || die "${name} $ref from ${!url_var} is commit $head, not the ${name}_COMMIT of versions.env"
    fi
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
