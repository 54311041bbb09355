# syncd daemon image. Configure it from the environment alone, or mount a syncd.yaml:
#   docker run -v syncd-data:/data -p 9464:9464 \
#     -e SYNCD_HUBSPOT__ACCESS_TOKEN=... -e SYNCD_MAILCHIMP__API_KEY=... \
#     -e SYNCD_MAILCHIMP__AUDIENCE_ID=... syncd
# The entrypoint applies the database migrations, then runs `syncd run` (README: "Running in a
# container"; docker/compose.yaml runs it beside PostgreSQL).
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
COPY docker/entrypoint.sh /usr/local/bin/syncd-entrypoint

USER syncd
VOLUME ["/data"]
# 9464: /healthz and /metrics; 8686: the admin console when SYNCD_UI__ENABLED=true.
EXPOSE 9464 8686

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4)" || exit 1

ENTRYPOINT ["syncd-entrypoint"]
CMD ["run"]
