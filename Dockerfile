# Casefile server image. Build: docker build -t casefile .
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --create-home --home-dir /srv/casefile --uid 10001 casefile
WORKDIR /srv/casefile

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
COPY app/__init__.py app/__init__.py
COPY migrations/__init__.py migrations/__init__.py
RUN pip install . && pip uninstall -y casefile

COPY app app
COPY migrations migrations
COPY alembic.ini ./
RUN pip install --no-deps . \
    && mkdir -p /var/lib/casefile && chown casefile /var/lib/casefile

USER casefile
ENV CASEFILE_DATA_DIR=/var/lib/casefile \
    CASEFILE_SIGNING_KEY_FILE=/var/lib/casefile/keys/signing-key.pem \
    CASEFILE_IDENTITY_KEY_FILE=/var/lib/casefile/keys/identity-key \
    CASEFILE_DATABASE_URL=sqlite:////var/lib/casefile/casefile.db \
    CASEFILE_STORAGE_URL=file:///var/lib/casefile/objects
VOLUME ["/var/lib/casefile"]
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]

CMD ["casefile", "serve", "--host", "0.0.0.0", "--port", "8000"]
