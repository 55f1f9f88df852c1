# Stand-in for grafana/loki at .env's LOKI_VERSION, built natively from that version's module
# source (make loki). Faithful to the official image: distroless static nonroot, /usr/bin/loki,
# user 10001 owning /loki, no shell.
FROM scratch
COPY passwd group /etc/
COPY loki /usr/bin/loki
# The official image ships its local-config.yaml here; this one ships the project's.
COPY loki.yaml /etc/loki/local-config.yaml
# A tar keeps the directory's owner and mode (COPY of a directory would not keep its mode).
ADD loki-dir.tar /
USER 10001
ENTRYPOINT ["/usr/bin/loki"]
CMD ["-config.file=/etc/loki/local-config.yaml"]
EXPOSE 3100
