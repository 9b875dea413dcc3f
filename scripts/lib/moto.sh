# shellcheck shell=bash
# moto_server (PyPI `moto[server]`) for jit's tests and demo: a real IAM API
# over HTTP on a loopback port. Source this file, then:
#
#   ensure_moto               # venv at ${JIT_VENV:-<repo>/.venv}; exports JIT_MOTO_SERVER
#   start_moto                # exports AWS_ENDPOINT_URL and test credentials
#   trap stop_moto EXIT       # stop_moto is idempotent and always returns 0
#
# Both functions exit non-zero with a message on stderr when they fail.

JIT_MOTO_VERSION="${JIT_MOTO_VERSION:-5.2.5}"
_JIT_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

_moto_die() {
    echo "moto.sh: error: $*" >&2
    exit 1
}

# Creates the venv if missing and installs the pinned moto[server] once.
ensure_moto() {
    local venv="${JIT_VENV:-$_JIT_REPO/.venv}"
    local python="${JIT_PYTHON:-python3}"
    local marker="$venv/.jit-moto-$JIT_MOTO_VERSION"

    if [[ -f $marker && -x $venv/bin/moto_server ]] && "$venv/bin/python" -c 'import moto' 2>/dev/null; then
        export JIT_MOTO_SERVER="$venv/bin/moto_server"
        return 0
    fi

    # A venv whose interpreter no longer runs (moved, python upgraded) is rebuilt.
    if [[ -f $venv/pyvenv.cfg ]] && ! "$venv/bin/python" -c '' 2>/dev/null; then
        echo "moto.sh: rebuilding broken venv $venv" >&2
        rm -rf "$venv"
    fi
    if [[ ! -x $venv/bin/python ]]; then
        command -v "$python" >/dev/null 2>&1 ||
            _moto_die "$python not found; install Python 3.9+ (or set JIT_PYTHON)"
        echo "moto.sh: creating venv $venv" >&2
        "$python" -m venv "$venv" ||
            _moto_die "could not create a venv at $venv with $python (on Debian: apt-get install python3-venv)"
    fi

    echo "moto.sh: installing moto[server]==$JIT_MOTO_VERSION into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "moto[server]==$JIT_MOTO_VERSION" ||
        _moto_die "pip could not install moto[server]==$JIT_MOTO_VERSION into $venv"
    [[ -x $venv/bin/moto_server ]] ||
        _moto_die "moto[server] installed but $venv/bin/moto_server is missing"
    rm -f "$venv"/.jit-moto-*
    touch "$marker"
    export JIT_MOTO_SERVER="$venv/bin/moto_server"
}

# The venv's python when there is one, for the two helpers below.
_moto_python() {
    local py
    py="$(dirname "$JIT_MOTO_SERVER")/python"
    [[ -x $py ]] || py="${JIT_PYTHON:-python3}"
    "$py" "$@"
}

# Prints a port that was free on 127.0.0.1 a moment ago.
_moto_free_port() {
    _moto_python -c \
        'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Exit 0 when an HTTP server answers on 127.0.0.1:$1.
_moto_answers() {
    _moto_python - "$1" <<'PY' 2>/dev/null
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=1).read()
except urllib.error.HTTPError:
    pass  # any HTTP answer means it is serving
PY
}

# Starts moto_server on a free loopback port and points the AWS SDK at it.
# Exports AWS_ENDPOINT_URL, test credentials, JIT_MOTO_PID, JIT_MOTO_PORT and
# JIT_MOTO_LOG (the server's output).
start_moto() {
    [[ -n ${JIT_MOTO_SERVER:-} ]] || ensure_moto
    [[ -x $JIT_MOTO_SERVER ]] || _moto_die "JIT_MOTO_SERVER=$JIT_MOTO_SERVER is not executable"
    if [[ -n ${JIT_MOTO_PID:-} ]] && kill -0 "$JIT_MOTO_PID" 2>/dev/null; then
        return 0 # already running
    fi
    export JIT_MOTO_LOG="${JIT_MOTO_LOG:-$(mktemp "${TMPDIR:-/tmp}/jit-moto.XXXXXX")}"

    local attempt port pid deadline
    for attempt in 1 2 3 4 5; do
        port="$(_moto_free_port)" || _moto_die "could not find a free port on 127.0.0.1"
        env -u MOTO_ACCOUNT_ID "$JIT_MOTO_SERVER" -H 127.0.0.1 -p "$port" >"$JIT_MOTO_LOG" 2>&1 </dev/null &
        pid=$!
        deadline=$((SECONDS + 20))
        while kill -0 "$pid" 2>/dev/null; do
            if _moto_answers "$port"; then
                export JIT_MOTO_PID="$pid" JIT_MOTO_PORT="$port"
                export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
                export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
                export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
                export AWS_EC2_METADATA_DISABLED=true
                unset AWS_SESSION_TOKEN AWS_PROFILE
                return 0
            fi
            if ((SECONDS >= deadline)); then
                kill "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
                tail -n 20 "$JIT_MOTO_LOG" >&2 || true
                _moto_die "moto_server did not answer on 127.0.0.1:$port within 20s (log: $JIT_MOTO_LOG)"
            fi
            sleep 0.1
        done
        wait "$pid" 2>/dev/null || true # exited early: most likely the port was taken; retry
        echo "moto.sh: moto_server exited on port $port (attempt $attempt), retrying" >&2
    done
    tail -n 20 "$JIT_MOTO_LOG" >&2 || true
    _moto_die "moto_server would not start (log: $JIT_MOTO_LOG)"
}

# Stops the server started by start_moto. Safe to call twice or from a trap.
stop_moto() {
    if [[ -n ${JIT_MOTO_PID:-} ]]; then
        kill "$JIT_MOTO_PID" 2>/dev/null || true
        wait "$JIT_MOTO_PID" 2>/dev/null || true
        unset JIT_MOTO_PID JIT_MOTO_PORT
    fi
    return 0
}
