# The gateway image: Node.js 20, production dependencies only, run as the unprivileged `node` user.
# The same image runs the one-shot migration and seed (see docker-compose.yml).
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000 \
    DATA_DIR=/data

COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY src ./src
COPY migrations ./migrations
COPY schema ./schema
COPY fixtures ./fixtures
COPY tsconfig.json ./

RUN mkdir -p /data && chown node:node /data
USER node

EXPOSE 4000 9464
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# The server itself receives SIGTERM (no npm or tsx wrapper in between) and shuts down gracefully.
CMD ["node", "--import", "tsx", "src/cli/serve.ts"]
