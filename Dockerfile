# The reference service's image: built once per commit by CI and deployed to every stack by digest.
# Multi-stage: uv resolves the locked runtime dependencies in a build stage; the final stage holds
# only the virtual environment and the service code, runs as a non-root user and works with a
# read-only root filesystem (writable /tmp comes from the task definition's volume).

# The base image is a literal FROM, tag and digest, so Dependabot proposes its updates (it cannot read
# `FROM ${ARG}`). PYTHON_IMAGE names that stage by default; set it to build on another base image
# (`--build-arg PYTHON_IMAGE=...`, e.g. a stand-in on a machine that cannot reach Docker Hub).
ARG PYTHON_IMAGE=python-base
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS python-base

FROM ${PYTHON_IMAGE} AS build
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# uv's pin lives in a requirements file so that Dependabot (pip) keeps it current.
COPY docker/uv-requirements.txt /tmp/uv-requirements.txt
RUN pip install -r /tmp/uv-requirements.txt
WORKDIR /app
COPY pyproject.toml uv.lock ./
# Runtime dependencies only: no dev or infra groups, and the project itself is not installed
# (the code is copied below and found on PYTHONPATH).
RUN uv sync --frozen --no-install-project --no-default-groups
COPY service ./service
RUN python -m compileall -q service

FROM ${PYTHON_IMAGE}
# uid and gid must equal service.contract.CONTAINER_UID (tests/test_contract.py checks it).
RUN groupadd --gid 10001 app && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build --chown=root:root /app /app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8000
USER 10001:10001
# Must equal service.contract.CONTAINER_PORT (tests/test_contract.py checks it).
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz', timeout=2)"]
CMD ["gunicorn", "-c", "service/gunicorn.conf.py", "service.main:app"]
