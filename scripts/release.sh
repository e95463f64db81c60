#!/usr/bin/env bash
# release.sh: build the offline release of OfflineSigner from this checkout's commit.
#
#   scripts/release.sh [--out DIR]        (default DIR: artifacts/release)
#
# Writes into DIR:
#   offline-signer_VERSION_amd64.deb          Debian package (dpkg-deb): both programs, units, sysusers/tmpfiles
#                                             entries, default configuration, hsm-config profiles
#   offline-signer-VERSION-linux-x64.tar.gz   the same files as a plain tree, for systems without dpkg
#   release-manifest.json                     SHA-256 of every installed file, the exact NuGet packages from the
#                                             lock files, the .NET runtime and SDK (also installed, beside the
#                                             programs; `offline-signerd --version` prints its SHA-256)
#   offline-signer-VERSION.cdx.json           SBOM, CycloneDX 1.5 JSON (also installed in /usr/share/doc, with the
#                                             copyright file and the bundled runtime's licenses and notices)
#   SHA256SUMS                                the four files above
#
# Both programs are published self-contained for linux-x64: the target machine needs neither the .NET SDK nor
# NuGet, and no network. The output is reproducible: the same commit built again, in another directory or at
# another time, gives byte-identical files (SOURCE_DATE_EPOCH is the commit's date; .NET builds deterministically
# with source paths mapped to /_/; archives have sorted entries, fixed owners and fixed times).
#
# What would otherwise vary between two builds, and what fixes it here:
#   source and PDB paths   ContinuousIntegrationBuild maps the checkout to /_/, and the build's own folder
#                          (artifacts/release-build) is at the same place in every checkout, so generated sources
#                          (obj/) map the same way; the PE header names /_/artifacts/release-build/.../X.pdb
#   MVIDs, PDB ids         Deterministic: derived from the compiled content, not random
#   publish's own files    deps.json, runtimeconfig.json and the apphosts carry no path or time; checked by the
#                          release tests, which build in two checkouts at different depths
#   file modes             normalized after copying (the umask of the build does not matter)
#   times                  every file and folder dated SOURCE_DATE_EPOCH; dpkg-deb dates its ar members with it
#   order, owners          dpkg-deb sorts and, with --root-owner-group, owns everything by root; tar --sort=name
#                          --owner=0 --group=0 --numeric-owner; gzip -n stores no name or time
#   compression            xz single-threaded (the threaded encoder's block layout depends on the cores)
#   manifest and SBOM      sorted keys and lists, the SBOM's time from SOURCE_DATE_EPOCH, its serial number a
#                          UUIDv5 of the package and commit
#
# Needs: the .NET SDK of global.json, the NuGet packages of the lock files (restored in locked mode; the runtime
# packs for linux-x64 are fetched by the restore when not cached), dpkg-deb, python3, git, tar, gzip, xz.
# Refuses to build from a work tree with uncommitted changes: a release is a commit.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
OUT="$ROOT/artifacts/release"

while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || { echo "release: --out needs a directory" >&2; exit 2; }; OUT=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "release: unknown argument $1 (usage: scripts/release.sh [--out DIR])" >&2; exit 2 ;;
  esac
done

say() { printf 'release: %s\n' "$*"; }
die() { printf 'release: error: %s\n' "$*" >&2; exit 1; }

for tool in dotnet dpkg-deb git tar gzip xz sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
PYTHON=${PYTHON:-python3}
[ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3
command -v "$PYTHON" >/dev/null 2>&1 || die "python3 is not installed"

git rev-parse --verify -q HEAD >/dev/null || die "not a git checkout with a commit"
if [ -n "$(git status --porcelain --untracked-files=normal)" ]; then
  die "the work tree has uncommitted changes (git status): a release is built from a commit only"
fi

COMMIT=$(git rev-parse HEAD)
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct HEAD)
export SOURCE_DATE_EPOCH
VERSION=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props | head -n 1)
[ -n "$VERSION" ] || die "no <Version> in Directory.Build.props"
RID=linux-x64
ARCH=amd64
NAME=offline-signer
DEB="${NAME}_${VERSION}_${ARCH}.deb"
TARBASE="${NAME}-${VERSION}-${RID}"
SBOM="${NAME}-${VERSION}.cdx.json"

# Everything the build writes stays in one folder of the checkout, so that the paths compiled into the
# programs (mapped to /_/ by ContinuousIntegrationBuild) are the same in every checkout.
WORK="$ROOT/artifacts/release-build"
rm -rf "$WORK"
mkdir -p "$WORK" "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -f "$OUT/$DEB" "$OUT/$TARBASE.tar.gz" "$OUT/release-manifest.json" "$OUT/$SBOM" "$OUT/SHA256SUMS"

say "offline-signer $VERSION, commit $COMMIT, SOURCE_DATE_EPOCH $SOURCE_DATE_EPOCH"

# --- .NET: locked restore, self-contained publish -------------------------------------------------------------
export OFFLINESIGNER_ARTIFACTS="$WORK/dotnet"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# No compiler or MSBuild server outlives the build (and none is shared with another checkout's build).
export DOTNET_CLI_USE_MSBUILD_SERVER=0
BUILD_PROPS=(
  -c Release
  -p:ContinuousIntegrationBuild=true
  -p:Deterministic=true
  -p:SourceRevisionId="$COMMIT"
  -p:SatelliteResourceLanguages=en
  -p:PublishDocumentationFile=false
  -p:PublishReferencesDocumentationFiles=false
  --disable-build-servers
  -nodeReuse:false
  --nologo
)
PROJECTS=(src/OfflineSigner.Daemon/OfflineSigner.Daemon.csproj src/OfflineSigner.Cli/OfflineSigner.Cli.csproj)

say "dotnet restore (locked mode)"
# The projects' RuntimeIdentifiers (linux-x64) are in their lock files; a restore with -r would restore every
# referenced library for the runtime too and find their lock files without it.
for p in "${PROJECTS[@]}"; do
  dotnet restore "$p" --locked-mode --disable-build-servers -v quiet --nologo
done

# The CLI's own `dotnet publish` makes a NativeAOT executable (its csproj). The release ships it on the same
# self-contained runtime as the daemon instead: one runtime in the package, one deps.json per program for the
# manifest and the SBOM, and the byte-for-byte reproducibility the release tests check.
for p in "${PROJECTS[@]}"; do
  name=$(basename "$p" .csproj)
  say "dotnet publish $name ($RID, self-contained)"
  dotnet publish "$p" "${BUILD_PROPS[@]}" -p:PublishAot=false -r "$RID" --self-contained true --no-restore \
    -o "$WORK/publish/$name" -v quiet >"$WORK/publish-$name.log" 2>&1 || { cat "$WORK/publish-$name.log" >&2; die "dotnet publish $name failed"; }
done

# --- The installed tree -----------------------------------------------------------------------------------------
STAGE="$WORK/root"
LIB="$STAGE/usr/lib/offline-signer"
mkdir -p "$LIB"
# One folder for both programs: they share the runtime. A file both publishes contain must be the same file.
for dir in "$WORK/publish/OfflineSigner.Daemon" "$WORK/publish/OfflineSigner.Cli"; do
  (cd "$dir" && find . -type f | LC_ALL=C sort) | while read -r f; do
    if [ -e "$LIB/$f" ]; then
      cmp -s "$dir/$f" "$LIB/$f" || die "both programs publish ${f#./} with different contents"
    else
      mkdir -p "$(dirname "$LIB/$f")"
      cp "$dir/$f" "$LIB/$f"
    fi
  done
done
[ -x "$LIB/offline-signerd" ] && [ -x "$LIB/offline-signer" ] || die "the publish has no offline-signerd or offline-signer program"

mkdir -p "$STAGE/usr/bin" "$STAGE/usr/lib/systemd/system" "$STAGE/usr/lib/sysusers.d" "$STAGE/usr/lib/tmpfiles.d" \
  "$STAGE/etc/offline-signerd" "$STAGE/usr/share/offline-signer" "$STAGE/usr/share/doc/offline-signer"
ln -s ../lib/offline-signer/offline-signerd "$STAGE/usr/bin/offline-signerd"
ln -s ../lib/offline-signer/offline-signer "$STAGE/usr/bin/offline-signer"
cp systemd/offline-signerd.service systemd/offline-signerd.socket "$STAGE/usr/lib/systemd/system/"
cp systemd/sysusers.d/offline-signerd.conf "$STAGE/usr/lib/sysusers.d/"
cp systemd/tmpfiles.d/offline-signerd.conf "$STAGE/usr/lib/tmpfiles.d/"
cp systemd/config.json "$STAGE/etc/offline-signerd/config.json"
git ls-files -z hsm-config | while IFS= read -r -d '' f; do
  mkdir -p "$STAGE/usr/share/offline-signer/$(dirname "$f")"
  cp "$f" "$STAGE/usr/share/offline-signer/$f"
done
cp README.md "$STAGE/usr/share/doc/offline-signer/README.md"
cp docs/install.md docs/audit-log.md "$STAGE/usr/share/doc/offline-signer/"
cp systemd/README.md "$STAGE/usr/share/doc/offline-signer/systemd.md"
cp SECURITY.md "$STAGE/usr/share/doc/offline-signer/SECURITY.md"
cp packaging/debian/copyright "$STAGE/usr/share/doc/offline-signer/copyright"
MAINTAINER=$(sed -n 's/^Maintainer: //p' packaging/debian/control.in)
printf '%s (%s) unstable; urgency=medium\n\n  * Release of commit %s.\n\n -- %s  %s\n' \
  "$NAME" "$VERSION" "$COMMIT" "$MAINTAINER" "$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")" \
  | gzip -9 -n >"$STAGE/usr/share/doc/offline-signer/changelog.gz"

# Modes do not depend on the umask or the checkout: 0755 for folders and programs, 0644 for the rest.
find "$STAGE" -type d -exec chmod 0755 {} +
find "$STAGE" -type f -exec chmod 0644 {} +
chmod 0755 "$LIB/offline-signerd" "$LIB/offline-signer" "$LIB/createdump" \
  "$STAGE/usr/share/offline-signer/hsm-config/softhsm2/create-token.sh"

# --- Debian control files ----------------------------------------------------------------------------------------
CONTROL="$WORK/DEBIAN"
mkdir -p "$CONTROL"
chmod 0755 "$CONTROL"
cp packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm packaging/debian/conffiles "$CONTROL/"
chmod 0755 "$CONTROL/postinst" "$CONTROL/prerm" "$CONTROL/postrm"
chmod 0644 "$CONTROL/conffiles"

# --- SBOM and manifest (written into the tree, then copied out) -----------------------------------------------
say "release manifest and SBOM"
"$PYTHON" scripts/release_manifest.py \
  --stage "$STAGE" --control "$CONTROL" --repo "$ROOT" \
  --name "$NAME" --version "$VERSION" --commit "$COMMIT" --epoch "$SOURCE_DATE_EPOCH" --rid "$RID" --arch "$ARCH" \
  --sdk "$(dotnet --version)" \
  --nuget-packages "${NUGET_PACKAGES:-$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: //p')}" \
  --licenses "usr/share/doc/offline-signer/licenses" \
  --deps-json "$LIB/offline-signerd.deps.json" --deps-json "$LIB/offline-signer.deps.json" \
  --sbom "usr/share/doc/offline-signer/sbom.cdx.json" \
  --manifest "usr/lib/offline-signer/release-manifest.json"

# Installed-Size in KiB from file sizes (not from the filesystem's blocks, which differ between machines).
INSTALLED_SIZE=$(find "$STAGE" \( -type f -printf '%s\n' \) -o \( ! -type f -printf '1024\n' \) | awk '{ s += int(($1 + 1023) / 1024) } END { print s }')
sed -e "s/@VERSION@/$VERSION/" -e "s/@INSTALLED_SIZE@/$INSTALLED_SIZE/" packaging/debian/control.in >"$CONTROL/control"
chmod 0644 "$CONTROL/control"
(cd "$STAGE" && find . -type f ! -path './etc/*' -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' md5sum) >"$CONTROL/md5sums"
chmod 0644 "$CONTROL/md5sums"

# Every file and folder gets the commit's time.
find "$STAGE" "$CONTROL" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

# --- The package and the tarball --------------------------------------------------------------------------------
say "dpkg-deb --build $DEB"
PKG="$WORK/pkg"
mkdir -p "$PKG"
cp -a "$STAGE/." "$PKG/"
cp -a "$CONTROL" "$PKG/DEBIAN"
touch -h -d "@$SOURCE_DATE_EPOCH" "$PKG"
# xz with one thread: the multi-threaded encoder splits the stream into blocks, so its output would depend on
# whether the builder had several cores.
dpkg-deb --root-owner-group -Zxz -z6 --threads-max=1 --build "$PKG" "$OUT/$DEB" >/dev/null

say "tar $TARBASE.tar.gz"
TREE="$WORK/tar"
mkdir -p "$TREE/$TARBASE"
cp -a "$STAGE/." "$TREE/$TARBASE/"
touch -h -d "@$SOURCE_DATE_EPOCH" "$TREE/$TARBASE"
tar --sort=name --format=gnu --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
  -C "$TREE" -cf - "$TARBASE" | gzip -9 -n >"$OUT/$TARBASE.tar.gz"

cp "$STAGE/usr/lib/offline-signer/release-manifest.json" "$OUT/release-manifest.json"
cp "$STAGE/usr/share/doc/offline-signer/sbom.cdx.json" "$OUT/$SBOM"
(cd "$OUT" && sha256sum "$DEB" "$TARBASE.tar.gz" release-manifest.json "$SBOM" >SHA256SUMS)

rm -rf "$WORK"
say "done: $OUT"
sed 's/^/release:   /' "$OUT/SHA256SUMS"
