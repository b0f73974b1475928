# DataStorage: needs the PostgreSQL client at a pinned version.
FROM registry.access.redhat.com/ubi9/go-toolset:1.25 AS builder
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -o /out/datastorage ./cmd/datastorage

FROM registry.access.redhat.com/ubi9/ubi:9.6
# The security team rebuilds this base weekly outside E2E; the upgrade is theirs, not ours.
# hybrid-e2e ignore=no-dnf-update reason="weekly security base rebuilt outside E2E (SEC-112)"
RUN dnf -y update-minimal --security \
    && dnf install -y postgresql-16.4 \
    && dnf clean all
COPY --from=builder /out/datastorage /usr/local/bin/datastorage
ENTRYPOINT ["/usr/local/bin/datastorage"]
