# Used only by the compose run (e2e/stack): Tempo's image cannot be had here, so this stands in for it on
# Tempo's service name and OTLP port: a Collector that writes every span it receives to a file the test
# reads. User 10001 and /var/tempo as in Tempo's image (owner 10001:10001, mode 0700).
FROM scratch
COPY otelcol-tempo-standin /otelcol
COPY config.yaml /etc/tempo-standin.yaml
# A tar keeps the directory's owner and mode (COPY of a directory would not keep its mode).
ADD tempo-dir.tar /
USER 10001:10001
ENTRYPOINT ["/otelcol"]
CMD ["--config", "/etc/tempo-standin.yaml"]
EXPOSE 4317
