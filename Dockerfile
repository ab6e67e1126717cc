# replywatch — build: docker build -t replywatch .   run: see README ("Docker")
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# strip: the wheels' compiled libraries carry their symbol tables; stripped, the image is about 50 MB smaller.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends binutils >/dev/null
# requirements.lock (make lock): every version pinned and checked against its hash, so two builds install the same.
COPY requirements.lock ./
RUN python -m venv /opt/replywatch \
 && /opt/replywatch/bin/pip install --quiet --require-hashes --only-binary=:all: -r requirements.lock \
 && find /opt/replywatch -name '*.so*' -type f -exec strip --strip-unneeded {} +
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY migrations ./migrations
RUN /opt/replywatch/bin/pip install --quiet --no-deps . \
 && /opt/replywatch/bin/pip uninstall --quiet --yes pip

FROM python:3.12-slim
# METRICS_ADDR: every interface of the container, so that a published port (-p 9108:9108) reaches /metrics; outside
# a container it defaults to 127.0.0.1.
ENV PATH=/opt/replywatch/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite:////data/replywatch.db \
    METRICS_ADDR=0.0.0.0
# no pip at run time: nothing is installed into a running image (the base image's own pip goes too)
RUN python -m pip uninstall --quiet --yes pip \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin replywatch \
 && mkdir -p /data && chown replywatch:replywatch /data
COPY --from=build /opt/replywatch /opt/replywatch
USER replywatch
WORKDIR /data
VOLUME ["/data"]
# With METRICS_PORT=9108: Prometheus /metrics and /healthz (200 "ok", or 503 and why) on this port. Off by default.
EXPOSE 9108
# Works without METRICS_PORT. With it, /healthz says more (see README "Metrics and health").
HEALTHCHECK --interval=60s --timeout=10s --start-period=60s --retries=3 CMD ["replywatch", "health"]
ENTRYPOINT ["replywatch"]
CMD ["run"]
