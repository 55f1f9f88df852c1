# Stand-in for the OpenTelemetry Go auto-instrumentation image at .env's OTEL_GO_AUTO_VERSION, built natively from
# that version's module source (make agent). Faithful to the official image: runs as root, the binary
# at /otel-go-instrumentation as its default command, no shell.
FROM scratch
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY passwd group /etc/
# A tar keeps the directory's owner and mode (COPY of a directory would not keep its mode).
ADD tmp-dir.tar /
COPY otel-go-instrumentation /otel-go-instrumentation
CMD ["/otel-go-instrumentation"]
