PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_BASE := $(VENV)/.installed-base
STAMP_PROD := $(VENV)/.installed-prod
STAMP_DEV := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 8000
SUDO := $(shell test "$$(id -u)" -eq 0 || echo sudo)

.PHONY: run stack test chaos lint format migrate seed worker beat relay bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP_BASE): requirements/base.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/base.txt
	touch $@

$(STAMP_PROD): requirements/base.txt requirements/prod.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/prod.txt
	touch $@ $(STAMP_BASE)

$(STAMP_DEV): requirements/base.txt requirements/prod.txt requirements/dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $@ $(STAMP_BASE) $(STAMP_PROD)

run: $(STAMP_BASE)
	@mkdir -p var
	@echo "Migrating the database (var/db.sqlite3 unless DATABASE_URL says otherwise)..."
	@$(BIN)/python manage.py migrate --noinput -v 0
	@echo "Loading the demo data..."
	@$(BIN)/python manage.py seed_demo --base-url http://$(HOST):$(PORT)
	@echo ""
	@echo "  API:   http://$(HOST):$(PORT)/api/v1/"
	@echo "  Docs:  http://$(HOST):$(PORT)/api/docs/   (Redoc: /api/redoc/)"
	@echo "  Admin: http://$(HOST):$(PORT)/admin/"
	@echo ""
	@$(BIN)/python manage.py runserver $(HOST):$(PORT)

# The production topology on this machine: nginx on PORT (default 8080), gunicorn, uvicorn,
# Celery worker and beat, the event relay (docker/stack.py says what it sets up).
stack: $(STAMP_PROD)
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || \
		{ $(SUDO) apt-get update && $(SUDO) apt-get install -y nginx; }
	$(BIN)/python docker/stack.py

test: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy apps config
	$(BIN)/lint-imports
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest $(PYTEST_ARGS)

# Fault injection against a whole stack the suite starts itself (docs/reliability.md).
chaos: $(STAMP_DEV)
	$(BIN)/pytest -m chaos tests/chaos $(PYTEST_ARGS)

lint: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy apps config
	$(BIN)/lint-imports

format: $(STAMP_DEV)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: $(STAMP_BASE)
	$(BIN)/python manage.py migrate --noinput

seed: $(STAMP_BASE)
	$(BIN)/python manage.py seed_demo

worker: $(STAMP_BASE)
	$(BIN)/celery -A config worker -Q default,events,notifications,media,webhooks -l info

beat: $(STAMP_BASE)
	$(BIN)/celery -A config beat -l info

relay: $(STAMP_BASE)
	$(BIN)/python manage.py relay_events

bench: $(STAMP_DEV)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var/db.sqlite3 var/test*.sqlite3
