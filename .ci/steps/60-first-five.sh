#!/usr/bin/env bash
# The README's first five minutes in a clean clone: `git clone`, `npm ci` (which must build the web UI),
# `npm start` (tassel up: generated data, tracking server + UI, pipeline, serving), then what the README
# tells a newcomer to do: open the printed UI URL, and paste the printed curl. Ctrl-C must stop everything.
# Ports are 0 (any free port) so parallel runs never collide; the defaults 5000/8080 are what users get.
# It clones the committed HEAD: uncommitted changes in the working tree are not part of this check.
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
REPO="$PWD"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tassel-first-five.XXXXXX")"
PID=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -TERM -- "-$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  echo "first-five: FAILED: $*" >&2
  [ -f "$WORK/out.txt" ] && { echo "--- stdout"; cat "$WORK/out.txt"; } >&2
  [ -f "$WORK/err.txt" ] && { echo "--- stderr (last 40 lines)"; tail -40 "$WORK/err.txt"; } >&2
  exit 1
}
unset TASSEL_TRACKING_URI MLFLOW_TRACKING_URI
START=$SECONDS

git clone --quiet --no-hardlinks "$REPO" "$WORK/clone"
cd "$WORK/clone"
echo "first-five: npm ci in a fresh clone of $(git rev-parse --short HEAD)"
npm ci --no-audit --no-fund --prefer-offline >"$WORK/npm-ci.txt" 2>&1 || { cat "$WORK/npm-ci.txt" >&2; fail "npm ci"; }
test -s dist-ui/index.html || fail "npm ci did not build the web UI (dist-ui/index.html)"

# npm start, in its own process group so Ctrl-C (SIGINT) reaches npm and tassel alike
CI=true setsid npm start -- --port 0 --tracking-port 0 --rows 2000 >"$WORK/out.txt" 2>"$WORK/err.txt" &
PID=$!
for _ in $(seq 1 600); do
  grep -q '^Ctrl-C stops everything' "$WORK/out.txt" && break
  kill -0 "$PID" 2>/dev/null || fail "npm start exited before serving"
  sleep 1
done
grep -q '^Ctrl-C stops everything' "$WORK/out.txt" || fail "npm start did not get to serving in 600 s"

UI="$(sed -n 's/^tracking server and web UI: *//p' "$WORK/out.txt")"
[ -n "$UI" ] || fail "no 'tracking server and web UI' line"
curl -fsS "$UI" | grep -q '<script type="module"[^>]*src="/assets/' || fail "$UI does not serve the built web UI"
echo "first-five: web UI at $UI: ok"

CURL="$(awk '/^try it:/ { getline; sub(/^ +/, ""); print; exit }' "$WORK/out.txt")"
case "$CURL" in curl\ *) ;; *) fail "no printed curl command after 'try it:'" ;; esac
ANSWER="$(bash -c "$CURL")" || fail "the printed curl failed"
# shellcheck disable=SC2016 # the JavaScript is in single quotes on purpose
node -e '
  const r = JSON.parse(process.argv[1]);
  if (!(r.probability >= 0 && r.probability <= 1) || r.model?.fallback !== false || !r.model?.version)
    throw new Error(`not a prediction from the registered model: ${process.argv[1]}`);
' "$ANSWER" || fail "the printed curl did not answer a prediction: $ANSWER"
echo "first-five: the printed curl answered $ANSWER"

kill -INT -- "-$PID"
STATUS=0
wait "$PID" || STATUS=$?
PID=""
[ "$STATUS" -eq 0 ] || [ "$STATUS" -eq 130 ] || fail "Ctrl-C: npm start exited with $STATUS"
grep -q '^stopping' "$WORK/out.txt" || fail "Ctrl-C did not stop tassel up cleanly"
echo "first-five: ok in $((SECONDS - START)) s"
