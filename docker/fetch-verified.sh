#!/bin/sh
# fetch-verified URL SHA256 DEST
#
# Downloads URL to DEST and fails unless its SHA-256 is exactly SHA256. Used by the action image's
# `tools` stage for kind, kubectl and the Docker CLI. The release build passes upstream https://
# release URLs; tests pass file:///vendor/NAME, a file they put into the build context's vendor/
# directory (copied to /vendor). Both go through the same curl + sha256sum path, so the checksum
# check is exercised by every test build, not only by releases.
set -eu

if [ "$#" -ne 3 ]; then
    echo "usage: fetch-verified URL SHA256 DEST" >&2
    exit 2
fi
url=$1
sha=$2
dest=$3

case $sha in
    *[!0-9a-f]*) sha_ok=no ;;
    *) sha_ok=yes ;;
esac
if [ "$sha_ok" != yes ] || [ "${#sha}" -ne 64 ]; then
    echo "fetch-verified: '$sha' is not a lowercase hex SHA-256 (64 characters) for $url" >&2
    exit 1
fi

case $url in
    https://* | file:///vendor/*) ;;
    *)
        echo "fetch-verified: refusing '$url': only https:// URLs and file:///vendor/NAME (build-context files) are allowed" >&2
        exit 1
        ;;
esac

curl --fail --silent --show-error --location \
    --proto '=https,file' --proto-redir '=https' \
    --retry 3 --retry-connrefused --connect-timeout 20 \
    --output "$dest.part" "$url"

actual=$(sha256sum "$dest.part" | cut -d' ' -f1)
if [ "$actual" != "$sha" ]; then
    echo "fetch-verified: checksum mismatch for $url" >&2
    echo "  expected $sha" >&2
    echo "  actual   $actual" >&2
    rm -f "$dest.part"
    exit 1
fi
mv "$dest.part" "$dest"
echo "verified $dest ($url, sha256 $sha)"
