#!/usr/bin/env bash
# NATS with JetStream for the `nats` event transport's tests
# (tests/kernel/realtime/test_realtime_nats.py): uses the server on 127.0.0.1:4222, starts
# Debian's nats-server when it is installed but not running (installing it first when it is
# missing), and prints `export KRALIKI_TEST_NATS_URL=...` for .ci/run to eval. Prints
# nothing when no NATS can be had: those tests are then skipped. Messages go to stderr.
set -uo pipefail

up() { (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; }

if ! up; then
    if [ ! -x /usr/sbin/nats-server ]; then
        echo "installing nats-server (Debian)" >&2
        { apt-get install -y -q nats-server || { apt-get update -q && apt-get install -y -q nats-server; }; } >/dev/null 2>&1
    fi
    if [ -x /usr/sbin/nats-server ]; then
        echo "starting nats-server with JetStream on 127.0.0.1:4222" >&2
        mkdir -p /var/lib/nats-server
        start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
            -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log >&2
        for _ in $(seq 100); do up && break; sleep 0.1; done
    fi
fi

if up; then
    echo "export KRALIKI_TEST_NATS_URL=nats://127.0.0.1:4222"
else
    echo "no NATS on 127.0.0.1:4222: the nats transport's tests are skipped" >&2
fi
