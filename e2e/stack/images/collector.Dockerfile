# Stand-in for otel/opentelemetry-collector-contrib at the builder manifest's version, for machines that
# cannot pull it. Faithful to the official image (scratch, /otelcol-contrib,
# user 10001, no shell); the binary is the project's own builder build, which has exactly the
# components collector/config.yaml uses instead of all of contrib's.
FROM scratch
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY otelcol-contrib /otelcol-contrib
# The official image ships a default configuration here; this one ships the project's.
COPY config.yaml /etc/otelcol-contrib/config.yaml
USER 10001
ENTRYPOINT ["/otelcol-contrib"]
CMD ["--config", "/etc/otelcol-contrib/config.yaml"]
EXPOSE 4317 4318 55678 55679
