# CoreDNS at .env's COREDNS_VERSION, built from its module (e2e/cluster/build.sh), for make k8s-up's
# cluster. Faithful to the official image: the binary at /coredns as its entrypoint, CA certificates,
# user nonroot (65532), and the file capability that lets it bind port 53 as that user (the tar keeps
# it: COPY would drop it).
FROM scratch
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY passwd group /etc/
ADD coredns.tar /
USER 65532:65532
EXPOSE 53 53/udp
ENTRYPOINT ["/coredns"]
