#!/bin/sh
# `booth-agent` inside an installed bundle: the bundled agent on the bundled Node.js, wherever the
# bundle was unpacked and through any symlink to this file (provision.sh links
# /usr/local/bin/booth-agent → /opt/booth-agent/current/bin/booth-agent), so a technician's
# `booth-agent status` runs the same version as the service.
set -e
self=$(readlink -f "$0")
bin=${self%/*}
root=${bin%/*}
exec "$root/node/bin/node" "$root/lib/booth-agent.mjs" "$@"
