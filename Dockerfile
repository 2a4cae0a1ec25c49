# syntax=docker/dockerfile:1

# Molar's container image: the web app built with Node, molar built with Go
# without cgo (the embedded engine is pure Go), run from a distroless image
# as a user without privileges.
#
# The build runs the commands of `go tool task build` (ui:deps, ui:build,
# build), which CI runs without Docker on every change;
# deploy/image_test.go holds the two to the same commands and lints this
# file with BuildKit's own checks (those of `docker build --check`).

FROM node:20-bookworm-slim AS web
WORKDIR /src/ui
COPY ui/package.json ui/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY ui/ ./
RUN npm run build

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 BIN=/out
COPY . .
COPY --from=web /src/ui/dist/app ui/dist/app
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -o "${BIN}/molar" ./cmd/molar

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/molar /usr/local/bin/molar
# The nonroot user of the distroless image; BuildKit creates the working
# directory as that user, so the data volume mounted there is its own.
USER 65532:65532
WORKDIR /var/lib/molar
ENV MOLAR_ADDR=:8080 MOLAR_DATA_DIR=/var/lib/molar
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["/usr/local/bin/molar", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/molar"]
CMD ["serve"]
