"""moto_server as `running_emulator` starts it: `python -m local_aws.moto_main -H HOST -p PORT`.

moto 5.2 matches each request's Host header against the names of its own service packages,
listing moto's folder (170 entries, an isdir each) on every request. Our Host is always
127.0.0.1:port, so the scan always comes back empty-handed; measured, it was a quarter of a
request's time (6.9 -> 4.7 ms a GET). The folder does not change while the server runs, so
it is listed once.
"""

import sys

from moto import backends
from moto.server import main

_SERVICE_PACKAGES = tuple(backends.list_of_moto_modules())
backends.list_of_moto_modules = lambda: _SERVICE_PACKAGES

if __name__ == "__main__":
    main(sys.argv[1:])
