#!/bin/sh
# Refresh the map library the operators' page ships with (DESIGN.md section 16): Leaflet from the
# npm registry, pinned, its built files and licence copied into the package. Nothing is loaded from
# a CDN at run time; run this only to change the pinned version, then commit the files.
set -eu
VERSION="${LEAFLET_VERSION:-1.9.4}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$HERE/dispatch/http/static/vendor/leaflet"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "leaflet@$VERSION" >/dev/null && tar xzf "leaflet-$VERSION.tgz")
rm -rf "$DEST"
mkdir -p "$DEST/images"
cp "$WORK/package/dist/leaflet.js" "$WORK/package/dist/leaflet.css" "$WORK/package/LICENSE" "$DEST/"
cp "$WORK/package/dist/images/"*.png "$DEST/images/"
echo "$VERSION" > "$DEST/VERSION"
echo "vendored leaflet $VERSION into $DEST"
