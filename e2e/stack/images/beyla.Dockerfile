# Beyla at .env's BEYLA_VERSION, from a binary the user gives (BEYLA_BIN, or build/beyla): the project
# cannot build Beyla. Faithful to the official image: FROM scratch, runs as root, /beyla as its
# entrypoint, CA certificates, no shell.
FROM scratch
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY beyla /beyla
ENTRYPOINT ["/beyla"]
