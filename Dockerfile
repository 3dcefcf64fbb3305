# The deploy container of docker-compose.yaml: Python 3.11 + terraform + make + the project
# (binutils: the layer build strips debug symbols from the packages' own .so files).
# It builds the Lambda packages, applies deployment/terraform/ to LocalStack and seeds the data;
# in the `local` profile it also runs the no-Docker local AWS (local_aws/live.py).
# .dockerignore keeps the build context to the sources (about 1.7 MB, not the 1.7 GB of a
# working tree with .venv and build/).
FROM python:3.11-slim-bookworm

ARG TERRAFORM_VERSION=1.11.4
ARG TARGETARCH=amd64

RUN apt-get update \
 && apt-get install -y --no-install-recommends make curl unzip ca-certificates binutils \
 && rm -rf /var/lib/apt/lists/* \
 && curl -fsSL -o /tmp/terraform.zip \
      "https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}/terraform_${TERRAFORM_VERSION}_linux_${TARGETARCH}.zip" \
 && unzip /tmp/terraform.zip terraform -d /usr/local/bin \
 && rm /tmp/terraform.zip \
 && terraform version

WORKDIR /app

# The requirements first: that layer is rebuilt only when they change. Then `make setup`
# installs this project in editable mode, which needs pyproject.toml and every package it
# lists (no host .venv, build/ or Terraform state). demo/ is not used here, but is installed.
COPY Makefile ./
COPY requirements/ requirements/
RUN make deps
COPY pyproject.toml ./
COPY lambda/ lambda/
COPY layers/ layers/
COPY model/ model/
COPY data/ data/
COPY deployment/ deployment/
COPY local_aws/ local_aws/
COPY demo/ demo/
RUN rm -rf deployment/.state deployment/terraform/.terraform build \
 && make setup

EXPOSE 4566
CMD ["make", "deploy", "AWS_ENDPOINT_URL=http://localstack:4566", "PACKAGING=bundled"]
