# dialer as a long-running worker: serves every active campaign in the store.
#   docker build -t dialer .
#   docker run --rm -e DATABASE_URL -e RETELL_API_KEY -p 9100:9100 dialer        # a worker
#   ... -e DIALER_WEBHOOK_PORT=8080 -p 8080:8080 dialer     # a worker that takes Retell's events
#   ... -e DIALER_HTTP_TOKEN=...                            # /metrics and the dashboard need it
#   docker run --rm -e DATABASE_URL dialer db upgrade                            # migrations, once
#   docker run --rm -e DATABASE_URL -e RETELL_API_KEY -v $PWD/campaigns:/campaigns \
#       dialer run /campaigns/spring.yaml                                         # load + run one
# Listeners bind every interface in the image (DIALER_HTTP_HOST=0.0.0.0; outside it the default
# is 127.0.0.1): publish only the ports you mean to.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DIALER_METRICS_PORT=9100 DIALER_PORT_FILE=/tmp/dialer-metrics.port \
    DIALER_HTTP_HOST=0.0.0.0
WORKDIR /app
# Dependencies first, pinned, in a layer of their own: a change to the code reuses it.
COPY constraints.txt ./
RUN pip install -r constraints.txt && useradd --create-home --uid 10001 --user-group dialer
COPY pyproject.toml README.md ./
COPY dialer ./dialer
COPY migrations ./migrations
RUN pip install --no-deps . && rm -rf /app/dialer /app/migrations
# Numeric, so Kubernetes' runAsNonRoot can check it.
USER 10001:10001
WORKDIR /home/dialer
EXPOSE 9100 8080
# /healthz on the port the worker really serves (it writes it to DIALER_PORT_FILE; a port
# given with --metrics-port is followed too): 200 while its loop runs and its store answers.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; f = os.environ['DIALER_PORT_FILE']; port = open(f).read().strip() if os.path.exists(f) else os.environ['DIALER_METRICS_PORT']; u.urlopen('http://127.0.0.1:%s/healthz' % port, timeout=4)"]
# SIGTERM: stop claiming, drain in-flight requests (≤5 s), hand live calls to other workers.
STOPSIGNAL SIGTERM
ENTRYPOINT ["dialer"]
CMD ["worker"]
