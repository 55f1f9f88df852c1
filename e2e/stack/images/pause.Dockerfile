# Kubernetes' pause image at .env's PAUSE_VERSION, the sandbox of every pod of make k8s-up's cluster:
# Kubernetes' own pause.c from its module, linked static (e2e/cluster/build.sh). Faithful to the
# official image: FROM scratch, /pause as its entrypoint, user 65535.
FROM scratch
COPY pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]
