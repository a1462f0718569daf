# dialer as a long-running worker: serves every active campaign in the store.
#   docker build -t dialer .
#   docker run --rm -e DATABASE_URL -e RETELL_API_KEY -p 9100:9100 dialer        # a worker
#   ... -e DIALER_WEBHOOK_PORT=8080 -p 8080:8080 dialer     # a worker that takes Retell's events
#   docker run --rm -e DATABASE_URL dialer db upgrade                            # migrations, once
#   docker run --rm -e DATABASE_URL -e RETELL_API_KEY -v $PWD/campaigns:/campaigns \
#       dialer run /campaigns/spring.yaml                                         # load + run one
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DIALER_METRICS_PORT=9100
WORKDIR /app
COPY pyproject.toml README.md ./
COPY dialer ./dialer
COPY migrations ./migrations
RUN pip install . && useradd --create-home --uid 10001 dialer
USER dialer
WORKDIR /home/dialer
EXPOSE 9100 8080
# /healthz answers 200 while the store answers and the worker's loop is alive.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['DIALER_METRICS_PORT'], timeout=4)"
# SIGTERM: stop claiming, drain in-flight requests (≤5 s), hand live calls to other workers.
STOPSIGNAL SIGTERM
ENTRYPOINT ["dialer"]
CMD ["worker"]
