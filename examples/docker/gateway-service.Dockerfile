# syntax=docker/dockerfile:1
# Gateway service: Go build on UBI9, minimal runtime. Never `dnf update` (DD-TEST-002).
ARG GO_VERSION=1.25
FROM registry.access.redhat.com/ubi9/go-toolset:${GO_VERSION} AS builder
ARG GOFLAGS=""
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/opt/app-root/src/go/pkg/mod go mod download
COPY . .
RUN <<EOF
set -eux
CGO_ENABLED=0 go build ${GOFLAGS} -o /out/gateway ./cmd/gateway
EOF

FROM registry.access.redhat.com/ubi9/ubi-minimal:9.6 AS runtime
RUN microdnf install -y ca-certificates tzdata \
    && microdnf clean all
COPY --from=builder /out/gateway /usr/local/bin/gateway
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/gateway"]
