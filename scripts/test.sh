#!/usr/bin/env bash
# `npm test`: every layer in one vitest run. Under CI a file that failed is run once more on its own (a fresh stack, a
# fresh beforeAll), when no more than MAX_RERUN_FILES failed: several e2e files are one scenario in steps (an event's
# preview → start → end), where vitest's retry of a single step cannot work, and one slow moment on 2 shared cores
# must not hide a whole run. A file that passes only on its re-run is named (FLAKY FILE), never absorbed; a failure
# that is real fails twice and fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."
MAX_RERUN_FILES=3
failed_list="$(mktemp)"
trap 'rm -f "$failed_list" "$failed_list.blocked"' EXIT

RIVERHEAD_FAILED_FILES="$failed_list" npx vitest run "$@"
code=$?
if [ "$code" -eq 0 ] || [ -z "${CI:-}" ]; then exit "$code"; fi

if [ -s "$failed_list.blocked" ]; then
  echo "not re-run: $(tr '\n' ';' < "$failed_list.blocked")"
  exit "$code"
fi
mapfile -t failed < "$failed_list"
if [ "${#failed[@]}" -eq 0 ]; then
  echo "test run failed outside any test file: not re-run"
  exit "$code"
fi
if [ "${#failed[@]}" -gt "$MAX_RERUN_FILES" ]; then
  echo "${#failed[@]} test files failed (more than $MAX_RERUN_FILES): not a flake, not re-run"
  exit "$code"
fi
echo "re-running the ${#failed[@]} failed file(s) once, alone: ${failed[*]}"
RIVERHEAD_FAILED_FILES="$failed_list" npx vitest run "${failed[@]}"
rerun=$?
if [ "$rerun" -eq 0 ]; then
  for file in "${failed[@]}"; do echo "  FLAKY FILE $file (failed in the full run, passed when re-run alone)"; done
fi
exit "$rerun"
