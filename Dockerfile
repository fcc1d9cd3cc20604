# Multi-stage build: compile TypeScript (and better-sqlite3's native addon) in a full image, run in a slim
# one as an unprivileged user. Not built on the development machines (they have no Docker engine).
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY contracts ./contracts
# npm ci builds dist/ through the `prepare` script.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production LOG_FORMAT=json CONFIG_PATH=/etc/m2pool-payment/config.json
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/contracts ./contracts
RUN useradd --system --uid 10001 --home-dir /app m2pool
USER m2pool
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "fetch('http://127.0.0.1:8080/health').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
# Secrets come from the environment: PAYMENT_SIGN_KEY and PAYMENT_MASTER_KEY.
ENTRYPOINT ["node", "dist/bin/m2pool-payment.js"]
CMD ["start"]
