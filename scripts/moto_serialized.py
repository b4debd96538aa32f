"""moto_server, handling one request at a time.

DynamoDB applies each conditional write atomically: of racing writes with the same condition,
exactly one passes. moto's server is threaded and its DynamoDB backend takes no lock, so two
concurrent requests can both pass a condition (seen with 16 Lambda processes racing). The
exactly-once tests rely on DynamoDB's guarantee, so the emulator must keep it: requests are
served by several threads (connections never wait on each other) but the backend sees them one
after the other.

Usage: python moto_serialized.py HOST PORT
"""

import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialized(environ, start_response):
        with lock:
            response = app(environ, start_response)
            try:
                # Produce the whole body inside the lock: the backend may work lazily.
                return [b"".join(response)]
            finally:
                close = getattr(response, "close", None)
                if close is not None:
                    close()

    run_simple(host, port, serialized, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
