# kefu-bridge — `make run` (embedded default) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)
PORT   ?= 8000

.PHONY: install run test bench clean

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

## run: migrate the SQLite file, load the demo shop, start web + worker in one process
## (on 127.0.0.1:8000; `make run PORT=8080` for another port).
run: $(STAMP)
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi shops load demo/shop.json
	$(BIN)/flask --app wsgi embedded --port $(PORT) --demo-file demo/shop.json

## test: the whole suite (SQLite always; PostgreSQL and Redis on 127.0.0.1 when running).
test: $(STAMP)
	$(BIN)/python -m pytest -q

## bench: webhook, matcher and routing figures (bench/README.md). Needs wrk, PostgreSQL, Redis.
bench: $(STAMP)
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/run_matcher.py
	$(BIN)/python bench/run_routing.py
	$(BIN)/python bench/run_assign.py
	$(BIN)/python bench/run_oa.py

clean:
	rm -rf $(VENV) instance .pytest_cache
