#!/bin/sh
# make dist: the release of the version in lua/sinchnumbers/version.lua,
# in build/dist/:
#   sinchnumbers-V.tar.gz             the tracked files as they are in the working tree,
#                                     reproducible (sorted, owner 0, the last commit's time)
#   sinchnumbers-V-1.rockspec         the scm rockspec with that version, and the tarball
#                                     (with its md5) as its source
#   sinchnumbers-V-1.src.rock         both in one file, which installs offline:
#                                     luarocks install ./sinchnumbers-V-1.src.rock
#   sinchnumbers-fake-V-1.rockspec    the same for the fake server's rock, from the same
#   sinchnumbers-fake-V-1.src.rock    tarball; installs after the library's
# The release rockspecs are generated, not committed: their md5 changes with every
# commit, and there is no public URL for the tarball to point at yet.
set -eu

version=$(sed -n 's/^return "\([^"]*\)"$/\1/p' lua/sinchnumbers/version.lua)
[ -n "$version" ] || { echo "dist: no version in lua/sinchnumbers/version.lua" >&2; exit 1; }
name=sinchnumbers-$version
out=build/dist

if ! git diff --quiet HEAD -- 2>/dev/null; then
  echo "dist: note: the working tree has uncommitted changes; the tarball holds them" >&2
fi

rm -rf "$out"
mkdir -p "$out"
git ls-files -z | tar --null -T - --sort=name --owner=0 --group=0 --numeric-owner \
  --mtime="@$(git log -1 --format=%ct)" --transform="s|^|$name/|" -cf - | gzip -n -9 > "$out/$name.tar.gz"
md5=$(md5sum "$out/$name.tar.gz" | cut -d' ' -f1)

# release PACKAGE: PACKAGE-scm-1.rockspec with the release's version and source,
# and its .src.rock. The source.url is where the tarball is on this machine, for
# `luarocks pack`; installing the .src.rock never fetches it (the tarball is
# inside). Once the tarball has a public home, that URL goes here.
release() {
  rockspec=$1-$version-1.rockspec
  awk -v version="$version-1" -v url="file://$(pwd)/$out/$name.tar.gz" -v md5="$md5" -v dir="$name" '
    /^version = / { print "version = \"" version "\""; next }
    /^source = \{/ {
      print "source = {"
      print "   url = \"" url "\","
      print "   md5 = \"" md5 "\","
      print "   dir = \"" dir "\","
      print "}"
      skipping = 1; next
    }
    skipping && /^\}/ { skipping = 0; next }
    !skipping { print }
  ' "$1-scm-1.rockspec" > "$out/$rockspec"
  (cd "$out" && luarocks pack "$rockspec" > pack.log 2>&1) || { cat "$out/pack.log" >&2; exit 1; }
  rm -f "$out/pack.log"
}
release sinchnumbers
release sinchnumbers-fake
echo "dist: $out/$name.tar.gz (md5 $md5), and in $out/ the rockspec and .src.rock of sinchnumbers-$version-1 and sinchnumbers-fake-$version-1"
