#!/usr/bin/env bash
# A Ray cluster on this machine, for tests and rehearsals of cluster/README.md:
# a head and N worker nodes, each its own `ray start` on a loopback address with its
# own CPU count and ports. Worker nodes carry the custom resource {"worker_node": 1}, so
# placement can be checked (and requested) the way it is on a real cluster.
#
#   cluster/local.sh start N   # head + N workers; prints the addresses
#   cluster/local.sh add       # one more worker node (as an autoscaler would add)
#   cluster/local.sh stop      # ends every process of this cluster, and only those
#   cluster/local.sh status    # `ray status` of this cluster
#   cluster/local.sh pids      # the process ids of this cluster
#
# Settings (environment variables):
#   LOCAL_RAY_IP              loopback address of every node (default 127.0.0.2: Ray
#                             turns 127.0.0.1 and localhost into the machine's
#                             network address, other 127.x addresses it keeps)
#   LOCAL_RAY_PORT            GCS port of the head (default 6390); one cluster per port
#   LOCAL_RAY_DASHBOARD_PORT  dashboard and job server (default LOCAL_RAY_PORT + 1)
#   LOCAL_RAY_HEAD_CPUS       CPUs of the head (default 0: the head runs drivers only)
#   LOCAL_RAY_WORKER_CPUS     CPUs of each worker node (default 2)
#   LOCAL_RAY_OBJECT_STORE_MB object store of each node, MiB (default 100)
#   LOCAL_RAY_DASHBOARD       true (default) runs the dashboard, which `ray job submit`
#                             needs (ray[default]); false leaves it out
#   RAY                       the `ray` executable (default: .venv/bin/ray, else ray)
#
# The cluster keeps its files under /tmp/local-ray-PORT (its own --temp-dir), so a
# plain `ray.init()` elsewhere on the machine never finds and joins it.
set -euo pipefail

cd "$(dirname "$0")/.."
IP="${LOCAL_RAY_IP:-127.0.0.2}"
PORT="${LOCAL_RAY_PORT:-6390}"
DASHBOARD_PORT="${LOCAL_RAY_DASHBOARD_PORT:-$((PORT + 1))}"
HEAD_CPUS="${LOCAL_RAY_HEAD_CPUS:-0}"
WORKER_CPUS="${LOCAL_RAY_WORKER_CPUS:-2}"
OBJECT_STORE_BYTES="$(( ${LOCAL_RAY_OBJECT_STORE_MB:-100} * 1024 * 1024 ))"
DASHBOARD="${LOCAL_RAY_DASHBOARD:-true}"
TEMP_DIR="/tmp/local-ray-$PORT"
if [[ -z "${RAY:-}" ]]; then
    if [[ -x .venv/bin/ray ]]; then RAY=.venv/bin/ray; else RAY=ray; fi
fi
export RAY_AUTH_MODE="${RAY_AUTH_MODE:-disabled}" RAY_USAGE_STATS_ENABLED=0

COMMON=(--node-ip-address="$IP" --temp-dir="$TEMP_DIR"
    --object-store-memory="$OBJECT_STORE_BYTES" --disable-usage-stats)

# Every port of node I (0: head) is distinct: BASE + 10 * I + offset.
BASE=$((PORT + 10))
node_ports() {
    local base=$((BASE + 10 * $1))
    echo "--node-manager-port=$base --object-manager-port=$((base + 1))" \
        "--metrics-export-port=$((base + 2)) --dashboard-agent-listen-port=$((base + 3))" \
        "--dashboard-agent-grpc-port=$((base + 4)) --runtime-env-agent-port=$((base + 5))" \
        "--min-worker-port=0 --max-worker-port=0"
}

start() {
    local workers="$1"
    if [[ -d "$TEMP_DIR" ]] && pids >/dev/null; then
        echo "a local cluster already runs on port $PORT; run: $0 stop" >&2
        exit 1
    fi
    mkdir -p "$TEMP_DIR"
    # shellcheck disable=SC2046
    "$RAY" start --head --port="$PORT" "${COMMON[@]}" --num-cpus="$HEAD_CPUS" \
        --resources='{"head_node": 1}' --include-dashboard="$DASHBOARD" \
        --dashboard-host="$IP" --dashboard-port="$DASHBOARD_PORT" \
        --ray-client-server-port=$((PORT + 2)) $(node_ports 0) >"$TEMP_DIR/head.log" 2>&1 \
        || { cat "$TEMP_DIR/head.log" >&2; exit 1; }
    echo 0 >"$TEMP_DIR/workers"
    for _ in $(seq 1 "$workers"); do
        add_worker
    done
    echo "local Ray cluster: head + $workers worker node(s) of $WORKER_CPUS CPU(s)"
    echo "RAY_ADDRESS=$IP:$PORT"
    if [[ "$DASHBOARD" == true ]]; then
        echo "RAY_JOB_ADDRESS=http://$IP:$DASHBOARD_PORT"
    fi
}

# One more worker node, numbered after every worker started so far (its own ports).
add_worker() {
    local i
    i=$(($(cat "$TEMP_DIR/workers") + 1))
    # shellcheck disable=SC2046
    "$RAY" start --address="$IP:$PORT" "${COMMON[@]}" --num-cpus="$WORKER_CPUS" \
        --resources='{"worker_node": 1}' $(node_ports "$i") \
        >"$TEMP_DIR/worker-$i.log" 2>&1 || { cat "$TEMP_DIR/worker-$i.log" >&2; exit 1; }
    echo "$i" >"$TEMP_DIR/workers"
}

# Process ids of this cluster: every Ray process started for it names its temp dir
# or its GCS address on its command line.
pids() {
    local found=1 pid cmdline
    for proc in /proc/[0-9]*; do
        pid="${proc#/proc/}"
        [[ "$pid" == "$$" ]] && continue
        cmdline="$({ tr '\0' ' ' <"$proc/cmdline"; } 2>/dev/null)" || continue
        if [[ "$cmdline" == *"$TEMP_DIR"* || "$cmdline " =~ $IP:$PORT[[:space:]] ]] \
            && [[ "$cmdline" != *"local.sh"* ]]; then
            echo "$pid"
            found=0
        fi
    done
    return "$found"
}

stop() {
    local list
    list="$(pids || true)"
    if [[ -n "$list" ]]; then
        # shellcheck disable=SC2086
        kill -TERM $list 2>/dev/null || true
        for _ in $(seq 1 20); do
            list="$(pids || true)"
            [[ -z "$list" ]] && break
            sleep 0.5
        done
        # shellcheck disable=SC2086
        [[ -n "$list" ]] && kill -KILL $list 2>/dev/null || true
    fi
    rm -rf "$TEMP_DIR"
    echo "local Ray cluster on port $PORT stopped"
}

case "${1:-}" in
    start) start "${2:?usage: $0 start N}" ;;
    add) add_worker && echo "worker node $(cat "$TEMP_DIR/workers") added" ;;
    stop) stop ;;
    status) "$RAY" status --address="$IP:$PORT" ;;
    pids) pids ;;
    *) echo "usage: $0 start N | add | stop | status | pids" >&2; exit 2 ;;
esac
