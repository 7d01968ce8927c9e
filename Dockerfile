# The API (and the publisher CLI) in one image. Production points DATABASE_URL at
# PostgreSQL; without it the container publishes the demonstration data into SQLite.
# PYTHON_IMAGE: another Python 3.11 image where Docker Hub is out of reach (deploy/offline).
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY api ./api
COPY publisher ./publisher
COPY store ./store
# Editable, so the code finds the content folders and var/ beside it under /app.
RUN pip install -e .

COPY codelists ./codelists
COPY dataflows ./dataflows
COPY metadata ./metadata

# var/cache exists in the image, owned by migstat, so that a volume mounted there (compose:
# the response cache) starts owned by migstat too, not by root.
RUN useradd --create-home --uid 10001 migstat && mkdir -p /app/var/cache && chown -R migstat /app/var
USER migstat
ENV CACHE_DIR=/app/var/cache PORT=8000 LOG_FORMAT=json
EXPOSE 8000

# `publisher db upgrade` then serve; with no DATABASE_URL, publish the demonstration data first.
CMD ["sh", "-c", "if [ -z \"$DATABASE_URL\" ]; then publisher demo --workdir var/demo; else publisher db upgrade; fi && exec python -m api.serve api.app:app --host 0.0.0.0 --port $PORT --workers ${WORKERS:-2}"]
