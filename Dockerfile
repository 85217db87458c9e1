# Mini-NAS web: one image for the web server (Uvicorn, mininas_web/server.py) and the RQ worker.
#   docker build -t mininas-web .                 # torch from PyPI (CUDA wheels on x86_64)
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu -t mininas-web .
# docker-compose.yml runs it as "web" (behind nginx) and "worker" next to Redis and PostgreSQL.
FROM python:3.11-slim

ARG TORCH_INDEX_URL=
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=mininas_web.settings \
    STATIC_ROOT=/app/var/static \
    MEDIA_ROOT=/data/media

WORKDIR /app
COPY requirements.txt .
RUN pip install ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} -r requirements.txt

# Only what the app needs (no .venv, var/, media/ or a local db.sqlite3 from the build context).
COPY manage.py ./
COPY mininas_web mininas_web
COPY searchapp searchapp
COPY templates templates
COPY static static
RUN DEBUG=1 python manage.py collectstatic --no-input -v 0 \
    && useradd --system --uid 1000 --home-dir /app mininas \
    && mkdir -p /data/media \
    && chown -R mininas /data /app/var

USER mininas
VOLUME ["/data/media"]
EXPOSE 8000
# The worker overrides this: python manage.py rqworker gpu default --worker-class searchapp.tasks.worker.Worker
CMD ["python", "-m", "mininas_web.server", "--host", "0.0.0.0", "--port", "8000"]
