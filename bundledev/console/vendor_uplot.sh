#!/bin/sh
# Vendors uPlot (MIT) into static/vendor/ from its npm package, so the console works offline.
# Run from anywhere: sh bundledev/console/vendor_uplot.sh [VERSION]   (needs npm; commit the result)
set -eu
VERSION="${1:-1.6.32}"
HERE="$(cd "$(dirname "$0")" && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "uplot@$VERSION" >/dev/null && tar xzf "uplot-$VERSION.tgz")
mkdir -p "$HERE/static/vendor"
cp "$WORK/package/dist/uPlot.iife.min.js" "$WORK/package/dist/uPlot.min.css" "$HERE/static/vendor/"
cp "$WORK/package/LICENSE" "$HERE/static/vendor/uPlot.LICENSE"
echo "uplot $VERSION" > "$HERE/static/vendor/VERSIONS"
echo "vendored uPlot $VERSION into $HERE/static/vendor/"
