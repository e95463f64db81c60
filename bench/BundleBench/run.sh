#!/bin/sh
# Bundle benchmark, one run: a bundle of 2^BITS succinct hash-bin roles (default 14 = 16,384, PEP 458 size) end to
# end through the real CLI and daemon: export, sign with one SoftHSM2 key through offline-signerd (preview + sign
# of every role), import (verify, merge, snapshot and timestamp, atomic write) and verify of the whole repository.
# Beside it, in the same run, the token's own signing time: python3-pykcs11 signing the same kind of message with
# the same kind of key on the same token, so that the software overhead per role is the difference.
#   bench/BundleBench/run.sh [BITS]
set -eu
bits=${1:-14}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ -f /usr/lib/softhsm/libsofthsm2.so ] || { echo "SoftHSM is not installed (apt-get install softhsm2)" >&2; exit 3; }
/usr/bin/python3 -c "import PyKCS11" 2>/dev/null || { echo "python3-pykcs11 is not installed" >&2; exit 3; }

dotnet build "$root/src/OfflineSigner.Cli/OfflineSigner.Cli.csproj" -c Release --nologo -v quiet >/dev/null
dotnet build "$root/src/OfflineSigner.Daemon/OfflineSigner.Daemon.csproj" -c Release --nologo -v quiet >/dev/null
art=${OFFLINESIGNER_ARTIFACTS:-$root/artifacts}
cli_dll=$art/bin/OfflineSigner.Cli/release/offline-signer.dll
daemon_dll=$art/bin/OfflineSigner.Daemon/release/offline-signerd.dll
# The CLI as it ships, one NativeAOT executable (BUNDLEBENCH_CLI=native, the default when clang is there), or
# JIT-compiled (BUNDLEBENCH_CLI=jit: dotnet offline-signer.dll).
cli_build=${BUNDLEBENCH_CLI:-native}
if [ "$cli_build" = native ] && ! command -v clang >/dev/null; then
    echo "clang not found: the CLI is measured JIT-compiled (apt-get install clang zlib1g-dev for NativeAOT)" >&2
    cli_build=jit
fi
if [ "$cli_build" = native ]; then
    dotnet publish "$root/src/OfflineSigner.Cli/OfflineSigner.Cli.csproj" -c Release --nologo -v quiet >/dev/null
    cli_native=$art/publish/OfflineSigner.Cli/release_linux-x64/offline-signer
fi

work=$(mktemp -d)
dpid=
cleanup() {
    if [ -n "$dpid" ]; then kill "$dpid" 2>/dev/null || true; wait "$dpid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
umask 077

printf '1234\n' > "$work/user.pin"
printf '1234\n5678\n' | "$root/hsm-config/softhsm2/create-token.sh" --dir "$work" --label bundlebench >/dev/null
SOFTHSM2_CONF=$work/softhsm2.conf
export SOFTHSM2_CONF
cat > "$work/config.json" <<JSON
{ "backends": [ { "name": "softhsm", "type": "pkcs11", "module": "/usr/lib/softhsm/libsofthsm2.so", "token": { "label": "bundlebench" }, "pin": { "file": "$work/user.pin" } } ],
  "daemon": { "socket": "$work/signerd.sock", "auditLog": "$work/audit.jsonl" } }
JSON
dotnet "$daemon_dll" serve --config "$work/config.json" > "$work/daemon.log" 2>&1 &
dpid=$!
OFFLINE_SIGNER_SOCKET=$work/signerd.sock
export OFFLINE_SIGNER_SOCKET
if [ "$cli_build" = native ]; then
    cli() { "$cli_native" "$@"; }
else
    cli() { dotnet "$cli_dll" "$@"; }
fi
i=0
until cli daemon status >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 100 ] || { cat "$work/daemon.log" >&2; exit 1; }; sleep 0.2
done
key() { echo "pkcs11:token=bundlebench;object=$1"; }
for k in root targets bins; do cli keys generate --backend softhsm --label $k --pin-fd 3 3<"$work/user.pin" >/dev/null; done
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/online.pem" 2>/dev/null
repo=$work/repo
export OFFLINE_SIGNER_TIMINGS=1
sign() { cli sign --bundle "$1" --key "$(key "$2")" --yes --pin-fd 3 --json 3<"$work/user.pin"; }
now() { date +%s.%N; }

# Set-up (not measured): the repository, and its targets delegating to 2^BITS bins, all through bundles.
cli export --repo "$repo" --new --online-key "$work/online.pem" --out "$work/b-new" >/dev/null
cli ceremony init-root --bundle "$work/b-new" --root-key "$(key root)" --targets-key "$(key targets)" >/dev/null
sign "$work/b-new" root >/dev/null; sign "$work/b-new" targets >/dev/null
cli import --bundle "$work/b-new" --repo "$repo" --online-key "$work/online.pem" >/dev/null
cli keys public --key "$(key bins)" --out "$work/bins.json" >/dev/null
cli export --repo "$repo" --hash-bins "$bits" --add-key "$work/bins.json" --out "$work/b-bins" >/dev/null
sign "$work/b-bins" targets >/dev/null
sign "$work/b-bins" bins >/dev/null
cli import --bundle "$work/b-bins" --repo "$repo" --online-key "$work/online.pem" >/dev/null
roles=$(ls "$repo/metadata" | grep -c "^1\.bins-")
load=$(cut -d' ' -f1-3 /proc/loadavg)

# Measured: every bin re-signed (routine signing), end to end.
t0=$(now)
cli export --repo "$repo" --all-delegated --out "$work/b-resign" 2>"$work/export.err" >/dev/null
t1=$(now)
sign "$work/b-resign" bins > "$work/sign.json" 2>"$work/sign.err"
t2=$(now)
cli import --bundle "$work/b-resign" --repo "$repo" --online-key "$work/online.pem" 2>"$work/import.err" >/dev/null
t3=$(now)
cli verify-chain "$repo/metadata" >/dev/null
cd "$repo/metadata"
set -- timestamp.json $(ls | grep -E '^[0-9]+\.snapshot\.json$' | sort -n | tail -1) $(ls | grep -E '^[0-9]+\.targets\.json$' | sort -n | tail -1) $(ls | grep -E '^2\.bins-')
cli verify --root 1.root.json "$@" >/dev/null
t4=$(now)
cd "$work"

# The token's own rate, same run: pykcs11 signs SHA-256 digests with an ECDSA P-256 key on the same token.
token=$(/usr/bin/python3 - "$work/user.pin" <<'PY'
import sys, time, hashlib, PyKCS11
lib = PyKCS11.PyKCS11Lib(); lib.load("/usr/lib/softhsm/libsofthsm2.so")
slot = [s for s in lib.getSlotList(tokenPresent=True) if lib.getTokenInfo(s).label.strip() == "bundlebench"][0]
session = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
session.login(open(sys.argv[1]).read().strip())
key = session.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_LABEL, "bins")])[0]
mech = PyKCS11.Mechanism(PyKCS11.CKM_ECDSA, None)
n = 2000
start = time.perf_counter()
for i in range(n):
    session.sign(key, hashlib.sha256(b"bin %d" % i).digest(), mech)
print("%.6f" % ((time.perf_counter() - start) / n * 1000))
PY
)

# The file system's own cost for the same number of small files (an export writes 2 per role: the item and its
# previous version), from Python in the same run: create, one syncfs, rename.
fsfloor=$(/usr/bin/python3 - "$work/fsfloor" "$((2 * roles))" <<'PY'
import ctypes, os, sys, time
libc = ctypes.CDLL("libc.so.6", use_errno=True)
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d)
start = time.perf_counter()
for i in range(n):
    with open(f"{d}/.f{i}.tmp", "wb") as f:
        f.write(b"x" * 600)
fd = os.open(d, os.O_RDONLY)
libc.syncfs(fd)
for i in range(n):
    os.rename(f"{d}/.f{i}.tmp", f"{d}/f{i}")
os.fsync(fd)
print("%.3f" % (time.perf_counter() - start))
PY
)
rm -rf "$work/fsfloor"
echo "file system floor: $fsfloor s to create $((2 * roles)) small files (Python, same run)"
echo "export phases:"; grep '^timing:' "$work/export.err" | sed 's/^timing: /  /'
echo "sign phases:"; grep '^timing:' "$work/sign.err" | sed 's/^timing: /  /'
echo "import phases:"; grep '^timing:' "$work/import.err" | sed 's/^timing: /  /'
python3 - "$work/sign.json" "$roles" "$t0" "$t1" "$t2" "$t3" "$t4" "$token" "$load" "$cli_build" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); roles = int(sys.argv[2])
t = [float(x) for x in sys.argv[3:8]]; token = float(sys.argv[8]); load = sys.argv[9]
build = "NativeAOT, as it ships" if sys.argv[10] == "native" else "JIT-compiled (dotnet offline-signer.dll)"
phases = {"export": t[1] - t[0], "sign (CLI + daemon)": t[2] - t[1], "import": t[3] - t[2], "verify": t[4] - t[3]}
total = t[4] - t[0]
print(f"roles: {roles} (succinct hash bins), CLI {build}, load average before: {load}")
for name, secs in phases.items():
    print(f"  {name:22s} {secs:8.2f} s  {secs / roles * 1000:7.3f} ms/role")
pr, sr = s.get('preview_rpc_seconds', 0), s.get('sign_rpc_seconds', 0)
print(f"    previews            {s['preview_seconds']:8.2f} s  {s['preview_seconds'] / roles * 1000:7.3f} ms/role, of which waiting for the daemon's Preview RPC {pr / roles * 1000:.3f} ms/role")
print(f"    signatures          {s['sign_seconds']:8.2f} s  {s['sign_seconds'] / roles * 1000:7.3f} ms/role, of which waiting for the daemon's Sign RPC {sr / roles * 1000:.3f} ms/role")
daemon = pr + sr
ours = total - daemon
print(f"  {'total':22s} {total:8.2f} s  {total / roles * 1000:7.3f} ms/role")
print(f"    in the daemon's RPCs {daemon:8.2f} s  {daemon / roles * 1000:7.3f} ms/role (Preview + Sign, including the token's signature)")
print(f"    in the CLI           {ours:8.2f} s  {ours / roles * 1000:7.3f} ms/role (export, sign's own work, import, verify, process starts)")
print(f"token's own signing time (pykcs11, same token, same run): {token:.3f} ms/signature")
overhead = total / roles * 1000 - token
print(f"software overhead beyond the token: {overhead:.3f} ms/role (target < 1 ms/role: {'met' if overhead < 1 else 'NOT met'})")
print(f"  of which the CLI's: {ours / roles * 1000:.3f} ms/role; the daemon's beyond the token: {daemon / roles * 1000 - token:.3f} ms/role")
PY
