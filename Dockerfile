# The GloNet image: every `glonet` command (coordinator, gateway, simulated plants, demo).
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install --yes --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY protocols protocols
COPY firmware_sim firmware_sim
COPY edge edge
COPY cloud cloud
COPY glonet glonet
# Installed as from the wheel: the families and the demo network are package data. The copied
# sources stay in /app, where docker-compose.yml's commands name the demo's plant files
# (glonet/demo/network/) and the compose spec (deploy/compose/).
COPY deploy/compose deploy/compose
RUN pip install --no-cache-dir '.[postgres]' \
    && useradd --system --uid 10001 --home-dir /var/lib/glonet glonet \
    && mkdir -p /var/lib/glonet /shared && chown glonet /var/lib/glonet /shared

USER glonet
EXPOSE 8080
ENTRYPOINT ["glonet"]
CMD ["--help"]
