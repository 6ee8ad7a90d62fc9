# crmsync: one image for every service (migrate, worker, webhooks, scheduler).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv
WORKDIR /app

# Dependencies first, from the lock, so code changes do not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

COPY customers customers
COPY connectors connectors
COPY mappings mappings
COPY worker worker
COPY sandbox sandbox
RUN uv sync --frozen --no-dev

RUN useradd --create-home crmsync && mkdir -p /app/data && chown crmsync /app/data
USER crmsync
ENV PATH="/app/.venv/bin:$PATH" CRMSYNC_DATA_DIR=/app/data
ENTRYPOINT ["crmsync"]
CMD ["--help"]
