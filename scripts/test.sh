#!/usr/bin/env bash
# test.sh: set the machine up (scripts/setup.sh), then build and run every test project of
# OfflineSigner.sln, and end with one line "Tests: N passed, N failed, N skipped" totalled over all
# test assemblies (read from their trx reports).
#
# Usage: scripts/test.sh [extra dotnet test arguments, e.g. --filter "FullyQualifiedName~Notary"]
# Exit code: 0 when the build succeeded and no test failed; non-zero otherwise.
# Tests that need a component this machine lacks skip with the reason in the report.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

scripts/setup.sh

RESULTS=$(mktemp -d "${TMPDIR:-/tmp}/offlinesigner-tests.XXXXXX")
trap 'rm -rf "$RESULTS"' EXIT

echo "test: dotnet test OfflineSigner.sln (Release)"
status=0
# A hung test fails its assembly after 20 minutes instead of stalling the run.
dotnet test OfflineSigner.sln -c Release --no-restore --nologo \
  --logger "trx" --logger "console;verbosity=minimal" \
  --results-directory "$RESULTS" \
  --blame-hang-timeout 20m \
  "$@" || status=$?

# Totals from every trx report, one count per test result (a theory's rows count one by one):
# Passed; NotExecuted, NotRunnable or Inconclusive count as skipped; any other outcome (Failed, Error,
# Timeout, Aborted...) as failed. The <Counters> summary is not used: it leaves skipped xunit tests out.
# A test assembly that crashed before writing its report shows through dotnet test's exit code.
passed=0 failed=0 skipped=0 reports=0
for trx in "$RESULTS"/*.trx; do
  [ -e "$trx" ] || continue
  reports=$((reports + 1))
  while read -r count outcome; do
    case "$outcome" in
      Passed) passed=$((passed + count)) ;;
      NotExecuted|NotRunnable|Inconclusive) skipped=$((skipped + count)) ;;
      *) failed=$((failed + count)) ;;
    esac
  done < <(grep -o '<UnitTestResult [^>]*' "$trx" | grep -o ' outcome="[A-Za-z]*"' | cut -d'"' -f2 | sort | uniq -c)
done

if [ "$reports" -eq 0 ]; then
  echo "test: no test report was written (did the build fail?)" >&2
  [ "$status" -ne 0 ] || status=1
fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "test: dotnet test exited with $status (build failure or a crashed test host)" >&2
fi

echo "Tests: $passed passed, $failed failed, $skipped skipped"
if [ "$failed" -ne 0 ] && [ "$status" -eq 0 ]; then
  status=1
fi
exit "$status"
