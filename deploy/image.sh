#!/usr/bin/env bash
# The worker image (deploy/Dockerfile) on a machine with no image registry: Debian's Docker
# engine, a base image made from Debian's own packages, and the build. Idempotent.
#   deploy/image.sh install             install docker.io and debootstrap if missing (deploy/setup.sh)
#   deploy/image.sh engine              the same, and start dockerd if no engine answers
#   deploy/image.sh base                the base image callroles-base:bookworm (debootstrap), once
#   deploy/image.sh models              callroles-models:<digest>: the models the install step
#                                       (deploy/setup.sh) made in $CALLROLES_HOME, as an image
#   deploy/image.sh build [TAG] [--gpu] the worker image on that base with those models (default
#                                       TAG callroles:dev); --gpu adds onnxruntime-gpu's CUDA
#                                       wheels (EXTRAS=gpu)
# Where python:3.11-slim-bookworm can be pulled, plain `docker build -f deploy/Dockerfile .` does
# the same on the official base (deploy/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
BASE_IMAGE=${CALLROLES_BASE_IMAGE:-callroles-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
HOME_DIR=${CALLROLES_HOME:-$(pwd)/.callroles}
MODEL_DIRS="keras onnx silero resemblyzer"  # what deploy/Dockerfile copies from /opt/models
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/callroles-dockerd.log}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
say() { printf '\033[1m[image]\033[0m %s\n' "$*" >&2; }

install() {
  # Docker CE (or any engine already there) is used as it is; else Debian's docker.io.
  local missing=""
  docker info >/dev/null 2>&1 || command -v dockerd >/dev/null || missing="docker.io"
  command -v debootstrap >/dev/null || missing="$missing debootstrap"
  if [ -n "$missing" ]; then
    say "installing Debian packages:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
}

engine() {
  install
  if ! docker info >/dev/null 2>&1; then
    say "starting dockerd (log: $DOCKERD_LOG)"
    $SUDO sh -c "setsid nohup dockerd >>'$DOCKERD_LOG' 2>&1 </dev/null &"
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { tail -n 20 "$DOCKERD_LOG" >&2; say "dockerd did not start"; exit 1; }
  fi
}

base() {
  engine
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then return; fi
  local root
  root=$(mktemp -d)
  say "making $BASE_IMAGE from $MIRROR (debootstrap, about a minute)"
  $SUDO debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$root" "$MIRROR" >"$root.log" 2>&1 || { tail -n 20 "$root.log" >&2; exit 1; }
  # apt's downloaded packages and lists, documentation and translations stay out (123 MB, not 275)
  $SUDO tar -C "$root" --exclude='./var/cache/apt/*.bin' --exclude='./var/cache/apt/archives/*.deb' \
    --exclude='./var/lib/apt/lists/*_*' --exclude='./usr/share/doc/*' --exclude='./usr/share/man/*' \
    --exclude='./usr/share/locale/*' --exclude='./usr/share/info/*' -c . \
    | docker import -c 'CMD ["python3"]' - "$BASE_IMAGE" >/dev/null
  $SUDO rm -rf "$root" "$root.log"
}

# The install step's models as an image, so that the build needs no TensorFlow (the Dockerfile's
# own `install` stage would install it again: about 5 GB of disk and 10 minutes). Named by the
# files' digest: the same models give the same image, made once.
models() {
  engine
  local d
  for d in $MODEL_DIRS; do
    [ -d "$HOME_DIR/$d" ] || { say "no $HOME_DIR/$d: run deploy/setup.sh (the install step) first"; exit 1; }
  done
  local digest
  digest=$(cd "$HOME_DIR" && find $MODEL_DIRS -type f -print0 | sort -z | xargs -0 sha256sum \
    | sha256sum | cut -c1-12)
  MODELS_IMAGE="callroles-models:$digest"
  docker image inspect "$MODELS_IMAGE" >/dev/null 2>&1 && return
  say "making $MODELS_IMAGE from $HOME_DIR ($MODEL_DIRS)"
  # those folders alone, at /opt/models (the rest of CALLROLES_HOME is local state)
  (cd "$HOME_DIR" && tar -c --owner=0 --group=0 --transform 's,^,opt/models/,' $MODEL_DIRS) \
    | docker import - "$MODELS_IMAGE" >/dev/null
}

# A client that builds with BuildKit (RUN --mount): one with the buildx plugin, or Debian's
# docker.io client (20.10), whose BuildKit is built in.
buildkit_client() {
  if docker buildx version >/dev/null 2>&1; then echo docker
  elif [ -x /usr/bin/docker ]; then echo /usr/bin/docker
  else say "no BuildKit client: install the buildx plugin or Debian's docker.io"; exit 1
  fi
}

build() {
  local tag="callroles:dev" extras=""
  for arg in "$@"; do
    case "$arg" in --gpu) extras="gpu" ;; *) tag="$arg" ;; esac
  done
  base
  models
  # pip behind this machine's TLS inspection: its CA bundle as a build secret, never a layer
  local secret=()
  [ -n "${PIP_CERT:-}" ] && [ -f "$PIP_CERT" ] && secret=(--secret "id=pip_cert,src=$PIP_CERT")
  say "building $tag on $BASE_IMAGE${extras:+ with EXTRAS=$extras}"
  DOCKER_BUILDKIT=1 "$(buildkit_client)" build --network host --progress plain \
    --build-arg "BASE=$BASE_IMAGE" --build-arg "MODELS=$MODELS_IMAGE" --build-arg "EXTRAS=$extras" "${secret[@]}" \
    -f deploy/Dockerfile -t "$tag" .
}

case "${1:-}" in
  install) install ;;
  engine) engine ;;
  base) base ;;
  models) models; echo "$MODELS_IMAGE" ;;
  build) shift; build "$@" ;;
  *) sed -n '2,13p' "$0" >&2; exit 2 ;;
esac
