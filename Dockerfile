# MediKeep's container image: one image, run as web, worker, beat or prepare (compose.yaml).
# Its install and start-up commands are the ones .ci/deploy-check runs in a clean environment
# (the same apt package, the same install from requirements.txt only, the same deploy/medikeep
# commands); only the user and the copies are Docker's own. Not built by CI: no Docker daemon
# there. docs/deploy.md tells the rest.
FROM python:3.11-slim

# libmagic: uploads are sniffed for their real type. Nothing else from apt is needed to run.
RUN apt-get update && apt-get install -y --no-install-recommends libmagic1 \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --system --user-group --uid 10001 --home-dir /var/lib/medikeep --create-home medikeep

# Production installs take requirements.txt only (test and lint tools are in requirements-dev.txt).
COPY requirements.txt /app/requirements.txt
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/python -m pip install --quiet --no-cache-dir -r /app/requirements.txt

COPY . /app
WORKDIR /app

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MEDIKEEP_VAR_DIR=/var/lib/medikeep \
    MEDIKEEP_BIND=0.0.0.0:8000
USER medikeep
VOLUME ["/var/lib/medikeep"]
EXPOSE 8000
ENTRYPOINT ["deploy/medikeep"]
CMD ["web"]
