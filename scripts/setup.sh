#!/usr/bin/env bash
# setup.sh: install everything the build, the demo and the test suite need on a Debian 12 machine
# with the .NET 10 SDK (and Node.js 20 with npm). Run as root. Idempotent: a second run installs
# nothing and finishes in seconds. Uses only files inside this repository.
#
#   Debian packages  the real peers and parts the tests run against (SoftHSM2, OpenSC, notary,
#                    securesystemslib, gRPC for python, pcscd and the virtual reader, Yubico tools,
#                    headless Chromium for the printed ceremony report,
#                    mmdebstrap for the clean Debian 12 root the release's install tests use, lintian,
#                    clang and zlib to link the NativeAOT offline-signer, GNU time for the TUF benchmark)
#   tests/peers      `npm ci` (tuf-js, grpc-js), skipped while node_modules matches package-lock.json
#   NuGet            `dotnet restore OfflineSigner.sln --locked-mode`
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

say() { printf 'setup: %s\n' "$*"; }

# --- Debian packages -------------------------------------------------------------------------
PACKAGES=(
  softhsm2 opensc python3-pykcs11
  notary
  python3-securesystemslib python3-cryptography
  python3-grpcio python3-protobuf protobuf-compiler
  openssl systemd
  pcscd vsmartcard-vpcd yubico-piv-tool ykcs11 yubikey-manager
  chromium
  mmdebstrap xz-utils lintian
  clang zlib1g-dev time
)

missing=()
for p in "${PACKAGES[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: installing packages needs root (run this script as root)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Install what the archive has; name any package it does not know instead of failing on it.
  installable=()
  for p in "${missing[@]}"; do
    candidate=$(apt-cache policy "$p" 2>/dev/null | sed -n 's/^ *Candidate: *//p')
    if [ -n "$candidate" ] && [ "$candidate" != "(none)" ]; then
      installable+=("$p")
    else
      echo "setup: warning: Debian package $p is not available here; tests that need it will skip" >&2
    fi
  done
  if [ ${#installable[@]} -gt 0 ]; then
    apt-get install -y -qq --no-install-recommends "${installable[@]}" >/dev/null
  fi
  say "Debian packages installed"
else
  say "Debian packages: all present"
fi

# --- npm peers ---------------------------------------------------------------------------------
PEERS="$ROOT/tests/peers"
if command -v npm >/dev/null 2>&1; then
  lock_hash=$(sha256sum "$PEERS/package-lock.json" "$PEERS/package.json" | sha256sum | cut -d' ' -f1)
  stamp="$PEERS/node_modules/.offlinesigner-lock.sha256"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_hash" ]; then
    say "npm peers: up to date"
  else
    say "npm peers: npm ci in tests/peers"
    (cd "$PEERS" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$lock_hash" > "$stamp"
  fi
else
  echo "setup: warning: npm is not installed; tests that use tuf-js or grpc-js will skip" >&2
fi

# --- NuGet -------------------------------------------------------------------------------------
say "dotnet restore (locked mode)"
dotnet restore OfflineSigner.sln --locked-mode --nologo -v quiet
say "done"
