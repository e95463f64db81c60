#!/bin/sh
# TUF core benchmark: builds in Release, generates the workloads (fixed key, fixed clock, fixed seed), then runs ours,
# securesystemslib (python3) and tuf-js (node) on the same files, each in its own process, and prints the table;
# then the whole-process peak of offline-signer verify itself, JIT-compiled and published as NativeAOT (with clang,
# which NativeAOT links with, the memory of our library is also measured in this benchmark published as NativeAOT).
#   bench/TufBench/run.sh [ITERATIONS] [WARMUP]      (defaults: 5 and 2)
# Environment: TUFBENCH_TIMEOUT (seconds allowed to tuf-js's full verify, default 180), OFFLINESIGNER_ARTIFACTS.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
/usr/bin/python3 -c 'import securesystemslib.formats' 2>/dev/null || { echo "python3-securesystemslib is needed (apt-get install python3-securesystemslib)" >&2; exit 3; }
command -v node >/dev/null || { echo "node is needed" >&2; exit 3; }
[ -x /usr/bin/time ] || { echo "GNU time is needed (apt-get install time)" >&2; exit 3; }
if [ ! -d "$root/tests/peers/node_modules/@tufjs/models" ]; then
    (cd "$root/tests/peers" && npm ci --no-audit --no-fund --loglevel=error)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
artifacts=${OFFLINESIGNER_ARTIFACTS:-$work/artifacts}
OFFLINESIGNER_ARTIFACTS=$artifacts dotnet build -c Release "$here/TufBench.csproj" -v quiet -nologo >/dev/null
dll=$(find "$artifacts/bin/TufBench" -name TufBench.dll -path '*release*' | head -n 1)
OFFLINESIGNER_ARTIFACTS=$artifacts dotnet build -c Release "$root/src/OfflineSigner.Cli/OfflineSigner.Cli.csproj" -v quiet -nologo >/dev/null
cli=$(find "$artifacts/bin/OfflineSigner.Cli" -name offline-signer.dll -path '*release*' | head -n 1)
set -- "${1:-5}" "${2:-2}" --cli "$cli"
if command -v clang >/dev/null; then
    # The CLI as it ships: one NativeAOT executable.
    OFFLINESIGNER_ARTIFACTS=$artifacts dotnet publish -c Release "$root/src/OfflineSigner.Cli/OfflineSigner.Cli.csproj" -v quiet -nologo >/dev/null
    OFFLINESIGNER_ARTIFACTS=$artifacts dotnet publish -c Release "$here/TufBench.csproj" -v quiet -nologo >/dev/null
    set -- "$@" --cli-native "$artifacts/publish/OfflineSigner.Cli/release_linux-x64/offline-signer" \
        --native "$artifacts/publish/TufBench/release_linux-x64/TufBench"
else
    echo "clang not found: NativeAOT builds are not measured (apt-get install clang zlib1g-dev)" >&2
fi
cd "$root"
iterations=$1 warmup=$2
shift 2
dotnet "$dll" run --work "$work/workloads" --iterations "$iterations" --warmup "$warmup" --timeout "${TUFBENCH_TIMEOUT:-180}" \
    --peers "$root/tests/peers" --scripts "$here/peers" "$@"
