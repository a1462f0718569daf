# dialer as a container. The worker fleet (`dialer worker`) is not built yet; today the image
# runs `dialer run` against a mounted campaign, e.g.:
#   docker run --rm -e RETELL_API_KEY -e DATABASE_URL -v $PWD/campaigns:/campaigns dialer run /campaigns/spring.yaml
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY dialer ./dialer
COPY migrations ./migrations
RUN pip install . && useradd --create-home --uid 10001 dialer
USER dialer
WORKDIR /home/dialer
ENTRYPOINT ["dialer"]
CMD ["--help"]
