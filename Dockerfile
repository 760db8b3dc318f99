# syntax=docker/dockerfile:1
# Stage 1: install every dependency and compile src/ to dist/ (`npm ci` runs the `prepare` script: npm run build),
# then drop the development dependencies (TypeScript, tsx, vitest) so they never reach the runtime image.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm ci && npm prune --omit=dev && npm cache clean --force

# Stage 2: the runtime image: compiled JavaScript, production dependencies and the migrations, as a non-root user.
FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY migrations ./migrations
# The node image's unprivileged user (uid 1000); Kubernetes' runAsNonRoot needs the numeric id to verify it.
USER 1000:1000
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/intercom-sync.js"]
CMD ["run"]
