FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=3000 \
    DATABASE_URL=sqlite+aiosqlite:////data/dealcoach.db

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY bot ./bot
COPY adapters ./adapters
COPY coaching ./coaching
COPY migrations ./migrations
RUN pip install --no-cache-dir . \
    && useradd --system --home /app dealcoach \
    && mkdir /data && chown dealcoach /data

USER dealcoach
VOLUME /data
EXPOSE 3000
HEALTHCHECK CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz')"
# The schema is upgraded by Alembic on start.
CMD ["dealcoach", "serve"]
