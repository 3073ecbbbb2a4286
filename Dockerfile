# The vocwatch worker image. Build: docker build -t vocwatch .
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY vocwatch ./vocwatch
COPY streams ./streams
COPY classifiers ./classifiers
COPY alerts ./alerts
RUN pip install --no-cache-dir . \
 && python -c "from classifiers.tokenize import warm_up; warm_up()"

# Inside a container the HTTP server must listen on every interface to be scraped.
ENV VOCWATCH_WEB_HOST=0.0.0.0 \
    VOCWATCH_DATA_DIR=/tmp/vocwatch-data
EXPOSE 6066
USER nobody
CMD ["vocwatch", "worker"]
