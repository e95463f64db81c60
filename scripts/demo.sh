#!/usr/bin/env bash
# demo.sh: set the machine up (scripts/setup.sh), build OfflineSigner in Release, and run the CLI's
# demo: `offline-signer demo --out DIR` (what the demo does is the CLI's own documentation:
# `offline-signer demo --help`).
#
# Usage: scripts/demo.sh [extra arguments for `offline-signer demo`]
# Without --out, the demo writes into a new temporary folder, printed at the end and kept.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

scripts/setup.sh

echo "demo: building (Release)"
dotnet build src/OfflineSigner.Cli/OfflineSigner.Cli.csproj -c Release --no-restore --nologo -v quiet

ARTIFACTS=${OFFLINESIGNER_ARTIFACTS:-$ROOT/artifacts}
CLI="$ARTIFACTS/bin/OfflineSigner.Cli/release/offline-signer.dll"
if [ ! -f "$CLI" ]; then
  echo "demo: $CLI was not built" >&2
  exit 1
fi

args=("$@")
out=""
for a in "$@"; do
  case "$a" in
    --out|--out=*) out="given" ;;
  esac
done
if [ -z "$out" ]; then
  out=$(mktemp -d "${TMPDIR:-/tmp}/offlinesigner-demo.XXXXXX")
  args=(--out "$out" "${args[@]}")
fi

echo "demo: offline-signer demo ${args[*]}"
status=0
dotnet "$CLI" demo "${args[@]}" || status=$?
if [ "$out" != "given" ]; then
  echo "demo: output kept in $out"
fi
exit "$status"
