#!/bin/sh
# Builds and runs the YubiKey PIV benchmark: APDUs and time per signature, ours vs ykcs11, on a simulated YubiKey
# in the benchmark's own pcscd (needs root for the private mount namespace; see tests/YubiKeySimulator/PcscdSandbox.cs).
#   bench/YubiKeyBench/run.sh [SIGNATURES] [ROUNDS]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
artifacts=${OFFLINESIGNER_ARTIFACTS:-$work/artifacts}
OFFLINESIGNER_ARTIFACTS=$artifacts dotnet build -c Release "$here/YubiKeyBench.csproj" -v quiet -nologo >/dev/null
dll=$(find "$artifacts/bin/YubiKeyBench" -name YubiKeyBench.dll -path '*release*' | head -n 1)
dotnet "$dll" "${1:-200}" "${2:-3}"
