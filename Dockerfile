# The operator image the chart runs (image.repository / image.tag). It runs as user 65532 on a read-only
# root filesystem, as the chart's restricted Pod security context requires.
FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md ./
# The runtime only: operator/airlock_dev is development tooling and stays out of the image.
COPY operator/airlock ./operator/airlock
RUN pip install --no-cache-dir . && rm -rf /src
WORKDIR /
USER 65532:65532
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
ENTRYPOINT ["python", "-m", "airlock"]
CMD ["run"]
