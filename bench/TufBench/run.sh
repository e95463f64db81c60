#!/bin/sh
# TUF core benchmark: builds in Release, generates the workloads (fixed key, fixed clock, fixed seed), then runs ours,
# securesystemslib (python3) and tuf-js (node) on the same files, each in its own process, and prints the table.
#   bench/TufBench/run.sh [ITERATIONS] [WARMUP]      (defaults: 5 and 2)
# Environment: TUFBENCH_TIMEOUT (seconds allowed to tuf-js's full verify, default 180), OFFLINESIGNER_ARTIFACTS.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
/usr/bin/python3 -c 'import securesystemslib.formats' 2>/dev/null || { echo "python3-securesystemslib is needed (apt-get install python3-securesystemslib)" >&2; exit 3; }
command -v node >/dev/null || { echo "node is needed" >&2; exit 3; }
if [ ! -d "$root/tests/peers/node_modules/@tufjs/models" ]; then
    (cd "$root/tests/peers" && npm ci --no-audit --no-fund --loglevel=error)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
artifacts=${OFFLINESIGNER_ARTIFACTS:-$work/artifacts}
OFFLINESIGNER_ARTIFACTS=$artifacts dotnet build -c Release "$here/TufBench.csproj" -v quiet -nologo >/dev/null
dll=$(find "$artifacts/bin/TufBench" -name TufBench.dll -path '*release*' | head -n 1)
cd "$root"
dotnet "$dll" run --work "$work/workloads" --iterations "${1:-5}" --warmup "${2:-2}" --timeout "${TUFBENCH_TIMEOUT:-180}" \
    --peers "$root/tests/peers" --scripts "$here/peers"
