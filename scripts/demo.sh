#!/usr/bin/env bash
# demo.sh: the main job, end to end on the embedded default. It sets the machine up (scripts/setup.sh),
# builds OfflineSigner in Release, then:
#   1. creates two SoftHSM2 tokens (the root key holders' and the signing token) in a temporary folder,
#   2. starts offline-signerd on a Unix socket with both tokens,
#   3. generates the keys on the tokens through the daemon (never exported),
#   4. runs a root ceremony through bundles: `export --new` on the "online" side, `ceremony init-root`
#      (three root keys, threshold two) and `sign` by two key holders on the "air-gapped" side,
#      `import` into a local TUF repository (consistent snapshots; snapshot and timestamp signed with an
#      online key file),
#   5. rotates the root (one root key replaced, cross-signed) and creates, then rotates, a delegation,
#      each through a bundle signed in turn and imported,
#   6. verifies the result with our verifier (`verify-chain`, `verify`) and with tuf-js (an independent
#      client refreshing from a loopback HTTP server through every root version),
#   7. prints a short summary and stops the daemon it started.
#
# Usage: scripts/demo.sh [--out DIR] [--keep]
#   --out DIR   work in DIR (must be new or empty); default: a new temporary folder, removed at the end
#               unless --keep is given.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

out="" keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; keep=1; shift 2 ;;
    --out=*) out=${1#--out=}; keep=1; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

scripts/setup.sh

echo "demo: building (Release)"
dotnet build src/OfflineSigner.Cli/OfflineSigner.Cli.csproj -c Release --no-restore --nologo -v quiet
dotnet build src/OfflineSigner.Daemon/OfflineSigner.Daemon.csproj -c Release --no-restore --nologo -v quiet

ARTIFACTS=${OFFLINESIGNER_ARTIFACTS:-$ROOT/artifacts}
CLI_DLL="$ARTIFACTS/bin/OfflineSigner.Cli/release/offline-signer.dll"
DAEMON_DLL="$ARTIFACTS/bin/OfflineSigner.Daemon/release/offline-signerd.dll"
for f in "$CLI_DLL" "$DAEMON_DLL"; do
  [ -f "$f" ] || { echo "demo: $f was not built" >&2; exit 1; }
done

start=$(date +%s)
if [ -z "$out" ]; then
  W=$(mktemp -d "${TMPDIR:-/tmp}/offlinesigner-demo.XXXXXX")
else
  mkdir -p "$out"
  [ -z "$(ls -A "$out")" ] || { echo "demo: $out is not empty" >&2; exit 2; }
  W=$(cd "$out" && pwd)
fi

DPID=""
cleanup() {
  if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
    kill -TERM "$DPID" 2>/dev/null || true
    wait "$DPID" 2>/dev/null || true
  fi
  if [ "$keep" = 0 ]; then rm -rf "$W"; else echo "demo: output kept in $W"; fi
}
trap cleanup EXIT

cli() { dotnet "$CLI_DLL" "$@"; }
step() { echo; echo "demo: == $* =="; }

# --- 1. tokens -----------------------------------------------------------------------------------
step "SoftHSM2 tokens in $W/tokens"
export SOFTHSM2_CONF="$W/softhsm2.conf"
mkdir -p "$W/tokens" "$W/run"
printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$W/tokens" > "$SOFTHSM2_CONF"
PIN="$W/user.pin"
( umask 077; printf '1234\n' > "$PIN" )
for label in holders signing; do
  softhsm2-util --init-token --free --label "$label" --so-pin 87654321 --pin 1234 >/dev/null
  echo "token '$label' initialised"
done

# --- 2. daemon -----------------------------------------------------------------------------------
step "offline-signerd on $W/run/signerd.sock"
cat > "$W/config.json" <<JSON
{
  "backends": [
    { "name": "holders", "type": "pkcs11", "module": "/usr/lib/softhsm/libsofthsm2.so", "token": { "label": "holders" }, "pin": { "file": "$PIN" } },
    { "name": "signing", "type": "pkcs11", "module": "/usr/lib/softhsm/libsofthsm2.so", "token": { "label": "signing" }, "pin": { "file": "$PIN" } }
  ],
  "daemon": { "socket": "$W/run/signerd.sock", "auditLog": "$W/audit.jsonl" }
}
JSON
dotnet "$DAEMON_DLL" serve --config "$W/config.json" > "$W/daemon.log" 2>&1 &
DPID=$!
export OFFLINE_SIGNER_SOCKET="$W/run/signerd.sock"
for _ in $(seq 100); do
  if [ -S "$OFFLINE_SIGNER_SOCKET" ] && cli daemon status >/dev/null 2>&1; then break; fi
  kill -0 "$DPID" 2>/dev/null || { echo "demo: the daemon exited:" >&2; cat "$W/daemon.log" >&2; exit 1; }
  sleep 0.2
done
cli daemon status

# --- 3. keys -------------------------------------------------------------------------------------
step "keys generated on the tokens"
key() { echo "pkcs11:token=$1;object=$2"; }
for k in root-alice root-bob root-carol root-dave; do cli keys generate --backend holders --label "$k" --pin-fd 3 3<"$PIN" | head -1; done
for k in targets releases-1 releases-2; do cli keys generate --backend signing --label "$k" --pin-fd 3 3<"$PIN" | head -1; done
keyid() { cli keys list --json | python3 -c "import json,sys; print(next(k['tuf_key_id'] for k in json.load(sys.stdin)['keys'] if k['label']=='$1'))"; }
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/online.pem" 2>/dev/null
chmod 600 "$W/online.pem"
REPO="$W/repository"
sign() { cli sign --bundle "$1" --key "$2" --yes --pin-fd 3 --signer "$3" 3<"$PIN" >/dev/null; echo "$3 signed $(basename "$1") with $2"; }

# --- 4. root ceremony ----------------------------------------------------------------------------
step "root ceremony: three root keys, threshold two"
cli export --repo "$REPO" --new --online-key "$W/online.pem" --out "$W/usb/1-new-repository"
cli ceremony init-root --bundle "$W/usb/1-new-repository" \
  --root-key "$(key holders root-alice)" --root-key "$(key holders root-bob)" --root-key "$(key holders root-carol)" \
  --threshold 2 --targets-key "$(key signing targets)"
sign "$W/usb/1-new-repository" "$(key holders root-alice)" alice
sign "$W/usb/1-new-repository" "$(key holders root-bob)" bob
sign "$W/usb/1-new-repository" "$(key signing targets)" release-manager
cli status --bundle "$W/usb/1-new-repository" | head -6
cli import --bundle "$W/usb/1-new-repository" --repo "$REPO" --online-key "$W/online.pem"
cp "$REPO/metadata/1.root.json" "$W/trusted-root.json"

# --- 5. rotations --------------------------------------------------------------------------------
step "root rotation: carol's key replaced by dave's, cross-signed by the old root"
cli keys public --key "$(key holders root-dave)" --out "$W/usb/root-dave.json"
cli export --repo "$REPO" --role root --remove-key "$(keyid root-carol)" --add-key "$W/usb/root-dave.json" --out "$W/usb/2-root-rotation"
sign "$W/usb/2-root-rotation" "$(key holders root-alice)" alice
sign "$W/usb/2-root-rotation" "$(key holders root-bob)" bob
cli import --bundle "$W/usb/2-root-rotation" --repo "$REPO" --online-key "$W/online.pem"

step "delegation 'releases' created, then its key rotated"
cli keys public --key "$(key signing releases-1)" --out "$W/usb/releases-1.json"
cli export --repo "$REPO" --role targets --delegation releases --add-key "$W/usb/releases-1.json" --out "$W/usb/3-delegation"
sign "$W/usb/3-delegation" "$(key signing targets)" release-manager
sign "$W/usb/3-delegation" "$(key signing releases-1)" release-bot
cli import --bundle "$W/usb/3-delegation" --repo "$REPO" --online-key "$W/online.pem"
cli keys public --key "$(key signing releases-2)" --out "$W/usb/releases-2.json"
cli export --repo "$REPO" --role targets --delegation releases --remove-key "$(keyid releases-1)" --add-key "$W/usb/releases-2.json" --out "$W/usb/4-delegation-rotation"
sign "$W/usb/4-delegation-rotation" "$(key signing targets)" release-manager
sign "$W/usb/4-delegation-rotation" "$(key signing releases-2)" release-bot
cli import --bundle "$W/usb/4-delegation-rotation" --repo "$REPO" --online-key "$W/online.pem"

# --- 6. verification -----------------------------------------------------------------------------
step "verification: our verifier"
cli verify-chain "$REPO/metadata" --trusted "$W/trusted-root.json"
M="$REPO/metadata"
latest() { ls "$M" | grep -E "^[0-9]+\.$1\.json$" | sort -n | tail -1; }
cli verify --root "$W/trusted-root.json" "$M"/[0-9]*.root.json "$M/timestamp.json" "$M/$(latest snapshot)" "$M/$(latest targets)" "$M/$(latest releases)"

step "verification: tuf-js refreshing from a loopback HTTP server"
tufjs=$(cd tests/peers && node tufjs-refresh.mjs "$REPO" "$W/trusted-root.json")
echo "$tufjs" | python3 -c "import json,sys; r=json.load(sys.stdin); print('tuf-js:', 'ok' if r['ok'] else 'FAILED ' + r.get('error',''), '- root', r.get('root_version'), 'timestamp', r.get('timestamp_version'), 'snapshot', r.get('snapshot_version'), 'targets', r.get('targets_version')); sys.exit(0 if r['ok'] else 1)"

# --- 7. summary ----------------------------------------------------------------------------------
step "summary"
echo "repository:  $REPO (root version $(ls "$M" | grep -cE '^[0-9]+\.root\.json$'), $(ls "$M" | wc -l) metadata files)"
echo "bundles:     $(ls -d "$W"/usb/*/ | wc -l) carried across the air gap, $(cat "$W"/usb/*/transcript.jsonl | grep -c '"event":"sign"') signing sessions"
echo "daemon:      $(wc -l < "$W/audit.jsonl") audit entries; $(cli daemon status | grep 'audit log')"
echo "elapsed:     $(( $(date +%s) - start )) s after the build"
