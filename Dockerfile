# Kraliki Voice API image. Dependencies come only from uv.lock (uv sync --frozen), with uv
# itself pinned by hash exactly as the Makefile bootstraps it (.ci/uv-requirements.txt).
#   docker build -t kraliki-voice .
#   docker compose up            (see docker-compose.yml: PostgreSQL, migrations, API)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_NO_CACHE=1

WORKDIR /app

# uv, pinned with hashes, in its own virtualenv (pip enforces the hashes in the file).
COPY .ci/uv-requirements.txt /tmp/uv-requirements.txt
RUN python -m venv /opt/uv \
    && /opt/uv/bin/pip install --quiet --require-hashes -r /tmp/uv-requirements.txt \
    && rm /tmp/uv-requirements.txt

# Third-party dependencies first, so this layer is reused while only the code changes.
COPY pyproject.toml uv.lock README.md ./
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-install-project

# The project itself (built with the hatchling pinned in pyproject's build-system).
COPY kernel/ kernel/
COPY plugins/ plugins/
COPY tenants/ tenants/
COPY migrations/ migrations/
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-editable

# Run unprivileged. The code and the virtualenv stay root-owned (read-only to the app);
# var/ is writable only for the default SQLite database (KRALIKI_DATABASE_URL unset).
RUN groupadd --system --gid 10001 kraliki \
    && useradd --system --uid 10001 --gid kraliki --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin kraliki \
    && mkdir -p /app/var \
    && chown kraliki:kraliki /app/var
USER kraliki:kraliki

ENV PATH="/app/.venv/bin:${PATH}"

EXPOSE 8000

# Liveness only (/healthz); orchestrators should gate traffic on /readyz (database reachable
# and migrated), as docker-compose.yml does.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["kraliki", "serve", "--host", "0.0.0.0", "--port", "8000"]
