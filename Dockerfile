# syncd daemon image: `docker run -v syncd-data:/data -e HUBSPOT_ACCESS_TOKEN=... syncd`
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SYNCD_DATABASE_URL=sqlite:////data/syncd.db \
    SYNCD_METRICS__HOST=0.0.0.0

RUN useradd --create-home --uid 10001 syncd && mkdir /data && chown syncd /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY syncd ./syncd
COPY connectors ./connectors
COPY mappings ./mappings
RUN pip install --no-cache-dir .

USER syncd
VOLUME ["/data"]
EXPOSE 9464

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4)" || exit 1

ENTRYPOINT ["syncd"]
CMD ["run"]
