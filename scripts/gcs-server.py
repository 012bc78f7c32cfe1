"""Starts gcp-storage-emulator (installed by scripts/services.sh in /opt/app-gcs) with a socket timeout.

The emulator serves one connection at a time. A client that goes silent in the middle of a request body (a process
killed mid-upload behind a relay that has not closed yet) would hold it forever and stall every other client; with
the timeout the emulator drops that connection after 20 s of silence, as a real GCS endpoint would.

Usage: /opt/app-gcs/bin/python scripts/gcs-server.py start -H HOST --port PORT --in-memory -q
"""

import sys

from gcp_storage_emulator import server
from gcp_storage_emulator.__main__ import main

server.RequestHandler.timeout = 20

if __name__ == "__main__":
    sys.argv[0] = "gcp-storage-emulator"
    sys.exit(main())
