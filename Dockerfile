# syntax=docker/dockerfile:1
# crmsync: one image for every service (migrate, worker, webhooks, scheduler, sandbox).
# The build stage installs the locked dependencies and the package into a virtualenv with
# uv; the runtime stage copies only that virtualenv, so uv, the sources and the build
# caches stay out of the image.

ARG PYTHON_VERSION=3.11
ARG UV_VERSION=0.13.9

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

FROM python:${PYTHON_VERSION}-slim AS build
COPY --from=uv /uv /usr/local/bin/uv
# Bytecode compiled at build time (the runtime user cannot write it next to the code);
# copies rather than links, as the cache is a mount that is gone afterwards; the base
# image's interpreter, which is the same in the runtime stage.
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src

# Optional extras to install, e.g. --build-arg CRMSYNC_EXTRAS=otel for tracing.
ARG CRMSYNC_EXTRAS=""

# Dependencies first, from the lock, so code changes do not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project ${CRMSYNC_EXTRAS:+--extra $CRMSYNC_EXTRAS}

# Then the project itself, as an installed package (not a link back to /src).
COPY customers customers
COPY connectors connectors
COPY mappings mappings
COPY worker worker
COPY sandbox sandbox
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable ${CRMSYNC_EXTRAS:+--extra $CRMSYNC_EXTRAS}

FROM python:${PYTHON_VERSION}-slim AS runtime
# An empty named volume mounted on one of these folders takes its owner, so the
# unprivileged user can write there (the sandbox publishes its certificate in sandbox-tls).
RUN useradd --system --create-home --uid 10001 crmsync \
    && mkdir -p /app/data /app/sandbox-tls \
    && chown crmsync:crmsync /app/data /app/sandbox-tls
# The virtualenv's scripts name /app/.venv/bin/python, so it keeps its path.
COPY --from=build /app/.venv /app/.venv
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PATH="/app/.venv/bin:$PATH" CRMSYNC_DATA_DIR=/app/data
WORKDIR /app
USER crmsync
ENTRYPOINT ["crmsync"]
CMD ["--help"]
