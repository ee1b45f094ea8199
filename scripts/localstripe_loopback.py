"""Run localstripe bound to 127.0.0.1 only, with its state file in a chosen directory.

localstripe's own entry point listens on every interface (``::``) and keeps its
pickled store at the fixed path ``/tmp/localstripe.pickle``, which parallel test
stacks on one machine would share. This wrapper reuses localstripe's aiohttp
application unchanged and only decides where it listens and where it persists.

Usage: localstripe_loopback.py --port PORT --state-dir DIR
"""

import argparse
import logging
import os
import pickle
import socket
import sys

from aiohttp import web
from localstripe import resources, server


def persist_store_in(state_dir: str) -> None:
    """Point the store's disk persistence at ``state_dir/localstripe.pickle``."""
    path = os.path.join(state_dir, "localstripe.pickle")

    def dump_to_disk(store):
        # Write then rename so a crash never leaves a truncated pickle behind.
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            pickle.dump(dict(store), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)

    def try_load_from_disk(store):
        # Each stack starts from scratch; a leftover file is ignored on purpose.
        return None

    resources.Store.dump_to_disk = dump_to_disk
    resources.Store.try_load_from_disk = try_load_from_disk


def loopback_socket(port: int) -> socket.socket:
    """A listening-ready IPv4 socket on 127.0.0.1:port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", required=True)
    args = parser.parse_args()

    os.makedirs(args.state_dir, exist_ok=True)
    persist_store_in(args.state_dir)

    access_log = logging.getLogger("aiohttp.access")
    access_log.setLevel(logging.INFO)
    access_log.addHandler(logging.StreamHandler())

    web.run_app(server.app, sock=loopback_socket(args.port), access_log=access_log,
                print=lambda msg: print(msg, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
