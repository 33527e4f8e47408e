#!/usr/bin/env bash
# The README's main job in CI mode: `tassel up --once` on the embedded default (generated data, in-process
# tracking server on SQLite + local artifacts, pipeline, serving of models:/course-completion@production),
# in a scratch folder, with a small row count. It checks one prediction over HTTP and exits.
# Fails loudly: any non-zero exit, or output without a registered version in production and a prediction.
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
REPO="$PWD"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tassel-pipeline-e2e.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
unset TASSEL_TRACKING_URI MLFLOW_TRACKING_URI
cd "$WORK"
START=$SECONDS
if ! CI=true node "$REPO/bin/tassel.js" up --once --rows 3000 --port 0 --tracking-port 0 >"$WORK/out.txt" 2>"$WORK/err.txt"; then
  echo "pipeline-e2e: FAILED: tassel up --once exited non-zero" >&2
  cat "$WORK/out.txt" >&2
  tail -50 "$WORK/err.txt" >&2
  exit 1
fi
cat "$WORK/out.txt"
grep -q 'production: models:/course-completion@production = version 1' "$WORK/out.txt" || {
  echo "pipeline-e2e: FAILED: version 1 is not in production" >&2
  exit 1
}
grep -q '^prediction check: HTTP 200' "$WORK/out.txt" || {
  echo "pipeline-e2e: FAILED: no successful prediction" >&2
  exit 1
}
test -s "$WORK/tassel-data/students.csv" || { echo "pipeline-e2e: FAILED: no generated data" >&2; exit 1; }
echo "pipeline-e2e: ok in $((SECONDS - START)) s"
