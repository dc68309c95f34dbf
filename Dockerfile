# Transom with every first-party plugin and dialect, served by gunicorn on :8055.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY . /src
RUN pip install uv \
 && cd /src && uv export --frozen --no-dev --all-packages --no-hashes --no-emit-workspace \
      -o /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && pip install --no-deps /src/core /src/dialects/* /src/plugins/* \
 && rm -rf /src /tmp/requirements.txt

RUN useradd --create-home --uid 1000 transom && mkdir -p /app/data /app/extensions \
 && chown -R transom /app
USER transom

ENV HOST=0.0.0.0 PORT=8055 DB_CLIENT=sqlite3 DB_FILENAME=/app/data/data.db \
    EXTENSIONS_PATH=/app/extensions
EXPOSE 8055
VOLUME ["/app/data", "/app/extensions"]
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; \
sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8055/server/ping').status == 200 else 1)"
CMD ["transom", "start"]
