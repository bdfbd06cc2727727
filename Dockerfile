# One image for the whole suite: the service is chosen by the command, e.g.
#   crm serve contacts      (the Deployment's args)
#   crm migrate contacts    (the migration Job's args)
# Build: make image (buildah, no Docker engine needed) or docker build -t crm-suite .
# Python matches pyproject.toml (requires-python >= 3.11; CI runs 3.11).
ARG PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm

# --- build: the package and its dependencies into a self-contained venv -----
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN python3 -m venv /opt/crm

WORKDIR /src
COPY pyproject.toml setup.py ./
COPY gen/python gen/python
COPY services services

# Binary wheels only for the dependencies: no compiler is needed here and none
# can sneak into the image. The suite itself is pure Python, built from source,
# as is nkeys (NATS .creds logins), pure Python but published only as an sdist.
# pip byte-compiles while installing, so the read-only final image never needs
# to write __pycache__. pip and setuptools leave the venv: nothing installs at run time.
# CA_BUNDLE: a CA file to trust for the package index, for builders behind a
# TLS-intercepting proxy (tools/build-image.sh mounts the host's bundle there).
ARG CA_BUNDLE=
RUN if [ -n "$CA_BUNDLE" ]; then export PIP_CERT="$CA_BUNDLE"; fi \
    && /opt/crm/bin/pip install --only-binary=:all: --no-binary=crm-suite,nkeys . \
    && /opt/crm/bin/pip uninstall --yes pip setuptools \
    && /opt/crm/bin/crm --help >/dev/null

# --- run: the base image plus the venv, as an unprivileged numeric user -----
FROM ${PYTHON_IMAGE}

LABEL org.opencontainers.image.title="crm-suite" \
      org.opencontainers.image.description="CRM and helpdesk gRPC services (contacts, sales, projects, support)"

COPY --from=build /opt/crm /opt/crm

# Nothing is written outside /tmp (an emptyDir in Kubernetes): no bytecode
# caches, HOME and the working directory (where a default SQLite URL would
# point) are under /tmp. Production sets CRM_<SERVICE>_DATABASE_URL to PostgreSQL.
ENV PATH=/opt/crm/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
WORKDIR /tmp

# Numeric, so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 10001:10001

# Services listen on 127.0.0.1 by default: in a container set
# CRM_<SERVICE>_LISTEN_ADDRESS=0.0.0.0:50051 (the Kubernetes manifests do), and
# CRM_<SERVICE>_METRICS_ADDRESS=0.0.0.0:9464 for Prometheus metrics.
EXPOSE 50051 9464
ENTRYPOINT ["crm"]
CMD ["--help"]
