# FetchBox image: one image for `fetchbox api` and `fetchbox worker` (the command picks).
# Multi-stage: build and bundle with dev dependencies, ship production dependencies only,
# run as the unprivileged `node` user. (No Docker engine runs on the project's CI machines: the
# test suite checks this file statically; see docs/deployment.md.)

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts ./scripts
RUN npm run build && npm run bundle:workflows

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    FETCHBOX_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js \
    FETCHBOX_API_HOST=0.0.0.0 \
    FETCHBOX_WORKER_METRICS_HOST=0.0.0.0 \
    FETCHBOX_DATA_DIR=/data
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
# Handler modules mounted or copied anywhere (FETCHBOX_HANDLERS=/handlers/index.js) can
# `import ... from 'fetchbox'`: Node looks for packages in /node_modules last, and finds this one.
RUN mkdir -p /data /node_modules && chown node:node /data && ln -s /app /node_modules/fetchbox
USER node
EXPOSE 3000 9464
# `fetchbox worker` drains on SIGTERM (FETCHBOX_WORKER_SHUTDOWN_GRACE_MS, default 30 s, then at most
# 10 s more): give the container a stop timeout above both (compose: stop_grace_period: 45s).
# TLS files for Temporal (TEMPORAL_TLS_*_PATH) are mounted at run time, never built in.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/fetchbox.js"]
CMD ["worker"]
