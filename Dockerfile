# The deploy container of docker-compose.yaml: Python 3.11 + terraform + make + the project
# (binutils: the layer build strips debug symbols from the packages' own .so files).
# It builds the Lambda packages, applies deployment/ to LocalStack and seeds the data.
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

# The virtualenv first: rebuilt only when the requirements change.
COPY Makefile ./
COPY requirements/ requirements/
RUN make setup

# Only what the deployment needs (no host .venv, build/ or Terraform state).
COPY lambda/ lambda/
COPY layers/ layers/
COPY model/ model/
COPY data/ data/
COPY deployment/ deployment/
RUN rm -rf deployment/.state deployment/.terraform build

CMD ["make", "deploy", "AWS_ENDPOINT_URL=http://localstack:4566", "PACKAGING=bundled"]
