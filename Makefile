# Two commands do everything on a fresh machine:
#   make serve   installs what is needed and runs the server on 127.0.0.1:50051
#   make test    installs what is needed and runs the whole test suite
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 50051
DATA_DIR ?= .state

.PHONY: setup serve test test-fast protos check bench services image

setup:
	@bash scripts/setup.sh

serve: setup
	$(BIN)/verifier serve --host 127.0.0.1 --port $(PORT) --data-dir $(DATA_DIR) --log-format text

# Test services (Docker engine, PostgreSQL) are started by the suite's setup script.
services: setup
	@bash scripts/test_services.sh

# Two test processes, each module kept on one of them (its module-scoped servers and images
# start once): the suite mostly waits, so two share the machine's cores well.
PYTEST := $(BIN)/python -m pytest -q -n 2 --dist loadfile

test: services
	$(PYTEST)

test-fast: setup
	$(PYTEST) -m "not slow and not docker and not postgres"

protos: setup
	$(BIN)/python scripts/gen_protos.py

check: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check verifier_server sdk sandboxes trainers scripts
	$(BIN)/mypy
	$(BIN)/python scripts/gen_protos.py --check

bench: setup
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

# The server's container image, built from a locally bootstrapped Debian base (no registry needed).
image: setup
	bash deploy/build_image.sh
