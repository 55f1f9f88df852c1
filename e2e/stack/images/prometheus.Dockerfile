# Stand-in for prom/prometheus at the compose file's tag, built from the same version's module source.
# Faithful to the official image: busybox (so wget works for healthchecks), /bin/prometheus, user nobody
# owning /prometheus, the same entrypoint and default flags. Built without the web UI's assets (the
# API, which everything here uses, is complete) and without service-discovery plugins (the project's
# prometheus.yml uses static targets only).
FROM scratch
COPY busybox /bin/busybox
COPY bin/ /bin/
COPY passwd group /etc/
COPY prometheus /bin/prometheus
COPY prometheus.yml /etc/prometheus/prometheus.yml
# A tar keeps the directory's owner and mode (COPY of a directory would not keep its mode).
ADD prometheus-dir.tar /
USER nobody
EXPOSE 9090
WORKDIR /prometheus
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
