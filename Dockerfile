# rllib-dynamite on Ray 2.60 / Python 3.11, CPU only: the image every node of a
# cluster runs (cluster/README.md). Build from the repository root:
#   docker build -t rllib-dynamite:0.1.0-ray2.60.0-py311 .
# The base tag's Ray version and Python must match requirements.txt and pyproject.toml;
# tests/test_cluster.py checks that, and that the pins come from requirements.txt.
FROM rayproject/ray:2.60.0-py311-cpu

# torch's CPU-only wheels (the default index serves CUDA builds, gigabytes larger).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    RAY_USAGE_STATS_ENABLED=0 \
    RAY_DEDUP_LOGS=0

# The base image's unprivileged user (uid 1000, group users); nothing here needs root.
USER ray
WORKDIR /home/ray/rllib_dynamite

# Dependencies first, from the same exact pins as a developer's venv, so that a code
# change does not reinstall them.
COPY --chown=ray:users requirements.txt ./
RUN pip install --extra-index-url "${TORCH_INDEX_URL}" -r requirements.txt

COPY --chown=ray:users pyproject.toml README.md ./
COPY --chown=ray:users rllib_dynamite ./rllib_dynamite
COPY --chown=ray:users tune_configs ./tune_configs
RUN pip install --no-deps . \
    && rllib-dynamite envs >/dev/null \
    && mkdir -p /home/ray/results

# `rllib-dynamite tune tune_configs/paper/gridnavi.yaml --address auto` (any file of
# tune_configs/, docs/configs.md) runs from here.
CMD ["rllib-dynamite", "--help"]
