#!/usr/bin/env bash
# Runs a built image the way a user would (needs a Docker engine: GitHub Actions, not .ci/run):
# tracking server on SQLite in a volume -> data generate + pipeline run (registers and promotes) -> the
# image's default CMD (serve) until Docker reports it healthy (its HEALTHCHECK on /health/ready) -> /predict.
# Usage: scripts/check-packaging/container-smoke.sh IMAGE
set -Eeuo pipefail
IMAGE="${1:?usage: container-smoke.sh IMAGE}"
NET="tassel-smoke-$$"
VOL="tassel-smoke-data-$$"
TOKEN="smoke-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
cleanup() {
  docker logs tassel-smoke-serving 2>&1 | tail -30 || true
  docker rm -f tassel-smoke-tracking tassel-smoke-serving >/dev/null 2>&1 || true
  docker network rm "$NET" >/dev/null 2>&1 || true
  docker volume rm "$VOL" >/dev/null 2>&1 || true
}
trap cleanup EXIT

docker network create "$NET" >/dev/null
docker volume create "$VOL" >/dev/null

echo "::group::tracking server"
docker run -d --name tassel-smoke-tracking --network "$NET" -v "$VOL:/data" \
  -e TASSEL_AUTH_TOKEN="$TOKEN" -e HEALTH_PORT=5000 -e HEALTH_PATH=/health \
  "$IMAGE" server --host 0.0.0.0 --port 5000 \
  --backend-store-uri sqlite:////data/tracking.db --artifacts-destination file:///data/artifacts
for _ in $(seq 60); do
  [ "$(docker inspect -f '{{.State.Health.Status}}' tassel-smoke-tracking)" = healthy ] && break
  sleep 2
done
docker inspect -f '{{.State.Health.Status}}' tassel-smoke-tracking | grep -qx healthy
echo "::endgroup::"

echo "::group::pipeline on generated data"
docker run --rm --network "$NET" -v "$VOL:/data" "$IMAGE" \
  data generate --rows 5000 --seed 7 --out /data/courses.csv
docker run --rm --network "$NET" -v "$VOL:/data" -v "$PWD/deploy/k8s/config:/config:ro" \
  -e TASSEL_TRACKING_URI=http://tassel-smoke-tracking:5000 -e TASSEL_AUTH_TOKEN="$TOKEN" \
  "$IMAGE" pipeline run --config /config/pipeline.yaml
echo "::endgroup::"

echo "::group::serving (the image's default command)"
docker run -d --name tassel-smoke-serving --network "$NET" -p 127.0.0.1:8080:8080 \
  -e MLFLOW_TRACKING_URI=http://tassel-smoke-tracking:5000 -e TASSEL_TRACKING_URI=http://tassel-smoke-tracking:5000 \
  -e TASSEL_AUTH_TOKEN="$TOKEN" "$IMAGE"
for _ in $(seq 60); do
  [ "$(docker inspect -f '{{.State.Health.Status}}' tassel-smoke-serving)" = healthy ] && break
  sleep 2
done
docker inspect -f '{{.State.Health.Status}}' tassel-smoke-serving | grep -qx healthy
curl -fsS http://127.0.0.1:8080/health/ready | tee /dev/stderr | grep -q '"fallback":false'
echo
RECORD="$(docker run --rm -v "$VOL:/data" --entrypoint node "$IMAGE" -e '
  const [h, r] = require("fs").readFileSync("/data/courses.csv", "utf8").split("\n");
  const names = h.split(","), values = r.split(",");
  process.stdout.write(JSON.stringify(Object.fromEntries(names.map((n, i) => [n, values[i]]).filter(([n]) => n !== "Completed"))));')"
curl -fsS -X POST -H 'content-type: application/json' --data "$RECORD" http://127.0.0.1:8080/predict | tee /dev/stderr | grep -q '"probability"'
echo
echo "::endgroup::"
echo "container smoke OK: /health/ready and /predict answered from the promoted model"
