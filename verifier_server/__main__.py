"""``python -m verifier_server [serve] ...`` runs the server."""

import sys

from verifier_server.main import main

argv = sys.argv[1:]
if argv[:1] == ["serve"]:
    argv = argv[1:]
sys.exit(main(argv))
