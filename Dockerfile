# vibemap: one image for the indexer job, the API and the UI.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY vibemap ./vibemap
COPY indexer ./indexer
COPY recommender ./recommender
COPY ui ./ui
COPY data/demo_stats.json ./data/demo_stats.json
COPY data/demo_catalogue.parquet data/demo_catalogue.json ./data/
RUN pip install -e . && useradd --create-home vibemap && mkdir -p /indexes && chown vibemap /indexes
USER vibemap
EXPOSE 8000 7860
CMD ["vibemap", "serve", "--index", "/indexes/demo", "--host", "0.0.0.0", "--port", "8000"]
