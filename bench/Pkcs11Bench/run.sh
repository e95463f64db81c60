#!/bin/sh
# Builds and runs the PKCS#11 benchmark on a throwaway SoftHSM token; prints rates and ratios.
#   bench/Pkcs11Bench/run.sh [SECONDS_PER_WORKLOAD] [ROUNDS]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
module=/usr/lib/softhsm/libsofthsm2.so
[ -f "$module" ] || { echo "SoftHSM is not installed (apt-get install softhsm2)" >&2; exit 3; }
/usr/bin/python3 -c 'import PyKCS11, cryptography' || { echo "python3-pykcs11 and python3-cryptography are needed" >&2; exit 3; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
umask 077
# Throwaway PINs for a throwaway token (create-token.sh reads them from stdin).
printf '1234\n' > "$work/user.pin"
printf '1234\n5678\n' | "$root/hsm-config/softhsm2/create-token.sh" --dir "$work" --label bench >/dev/null
SOFTHSM2_CONF=$work/softhsm2.conf
export SOFTHSM2_CONF

artifacts=${OFFLINESIGNER_ARTIFACTS:-$work/artifacts}
OFFLINESIGNER_ARTIFACTS=$artifacts dotnet build -c Release "$here/Pkcs11Bench.csproj" -v quiet -nologo >/dev/null
dll=$(find "$artifacts/bin/Pkcs11Bench" -name Pkcs11Bench.dll -path '*release*' | head -n 1)
dotnet "$dll" "$module" bench "$work/user.pin" "$here/pykcs11_bench.py" "${1:-3}" "${2:-2}"
