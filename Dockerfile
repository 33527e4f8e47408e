# syntax=docker/dockerfile:1
# Tassel: one image for the tracking server (`server`), the serving service (`serve`, the default) and the
# training pipeline (`pipeline run`). No data and no model inside: models come from the registry.
#
#   docker build -t tassel .
#   docker run --rm -p 8080:8080 -e TASSEL_TRACKING_URI=http://tracking:5000 -e TASSEL_AUTH_TOKEN=... tassel
#   docker run --rm tassel server --host 0.0.0.0 --port 5000 --backend-store-uri postgresql://... \
#     --artifacts-destination s3://bucket/prefix
#   docker run --rm -v "$PWD/conf:/config:ro" tassel pipeline run --config /config/pipeline.yaml

ARG NODE_IMAGE=node:20-bookworm-slim

# --- toolchain: better-sqlite3 compiles its native module from source (no prebuilt download here) --------
FROM ${NODE_IMAGE} AS toolchain
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./

# --- build: all dependencies (TypeScript, Vite), then tsc to dist/ and the web UI to dist-ui/ ------------
FROM toolchain AS build
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY ui ./ui
RUN npm run build

# --- prod-deps: production dependencies only, native modules compiled for this base image -----------------
FROM toolchain AS prod-deps
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund \
 && node -e "require('better-sqlite3')(':memory:').close()"

# --- runtime: slim Node 20, no compiler, no sources, non-root -------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    TASSEL_USE_DIST=1 \
    HOME=/home/node
WORKDIR /app
# Owned by root and read-only for the app user: the process cannot rewrite its own code.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/dist-ui ./dist-ui
COPY package.json ./
COPY bin ./bin
# An empty, writable folder for data a job mounts or generates (named volumes inherit its owner).
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 8080 5000
# Serving answers /health/ready; the tracking server (port 5000) answers /health. Slim has no curl: use node.
# HEALTH_PORT/HEALTH_PATH let the tracking server reuse this check (compose sets them).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.HEALTH_PORT||8080}${process.env.HEALTH_PATH||'/health/ready'}`).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/tassel.js"]
CMD ["serve", "--model-uri", "models:/course-completion@production", "--host", "0.0.0.0", "--port", "8080"]
