# syntax=docker/dockerfile:1
# The abgate gateway image: serving needs ONNX Runtime only, so PyTorch never enters it.
#
#   docker build -t abgate:0.1.0 .
#   docker run --rm -p 8080:8080 -e ABGATE_ADMIN_TOKEN=change-me \
#       -e ABGATE_EVENTS_DB=postgresql://abgate:secret@db:5432/abgate \
#       -v "$PWD/models:/models:ro" -e ABGATE_REGISTRY=/models abgate:0.1.0
#
# Stage "build" installs abgate and its runtime dependencies into a virtualenv, at the versions
# pinned in requirements.lock (used as constraints: only what the package needs is installed);
# stage "runtime" copies that virtualenv onto a clean base and runs it as an unprivileged user.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
# The last two checks: the training stack stayed out, and the command starts without it.
RUN python -m venv /opt/abgate \
    && /opt/abgate/bin/pip install --constraint requirements.lock ".[postgres]" \
    && /opt/abgate/bin/python -m compileall -q /opt/abgate/lib \
    && ! /opt/abgate/bin/pip show torch >/dev/null 2>&1 \
    && /opt/abgate/bin/abgate --version

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="abgate" \
      org.opencontainers.image.description="A/B testing gateway for ML models (Open Inference Protocol V2)" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 abgate \
    && useradd --system --uid 10001 --gid abgate --no-create-home --home-dir /tmp \
        --shell /usr/sbin/nologin abgate
COPY --from=build /opt/abgate /opt/abgate
ENV PATH=/opt/abgate/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib \
    ABGATE_HOST=0.0.0.0 \
    ABGATE_PORT=8080
WORKDIR /tmp
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["abgate"]
# --expose: bind 0.0.0.0 inside the container; it refuses to start without ABGATE_ADMIN_TOKEN.
CMD ["serve", "--expose"]
