PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_BASE := $(VENV)/.installed-base
STAMP_DEV := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format migrate seed worker beat relay bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP_BASE): requirements/base.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/base.txt
	touch $@

$(STAMP_DEV): requirements/base.txt requirements/dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $@ $(STAMP_BASE)

run: $(STAMP_BASE)
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --base-url http://$(HOST):$(PORT)
	@echo ""
	@echo "  API:   http://$(HOST):$(PORT)/api/v1/"
	@echo "  Docs:  http://$(HOST):$(PORT)/api/docs/   (Redoc: /api/redoc/)"
	@echo "  Admin: http://$(HOST):$(PORT)/admin/"
	@echo ""
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy apps config
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy apps config

format: $(STAMP_DEV)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: $(STAMP_BASE)
	$(BIN)/python manage.py migrate --noinput

seed: $(STAMP_BASE)
	$(BIN)/python manage.py seed_demo

worker: $(STAMP_BASE)
	$(BIN)/celery -A config worker -Q default,events,notifications,media -l info

beat: $(STAMP_BASE)
	$(BIN)/celery -A config beat -l info

relay: $(STAMP_BASE)
	$(BIN)/python manage.py relay_events

bench: $(STAMP_DEV)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var/db.sqlite3 var/test*.sqlite3
