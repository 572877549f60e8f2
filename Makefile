# The two commands: `make run` serves the demo, `make test` runs every test and linter.
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test lint install install-dev clean test-miniprogram miniprogram-ci miniprogram-screenshots

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	scripts/run.sh

test: install-dev
	scripts/services.sh mysql redis nginx chromium
	TZ=Asia/Shanghai $(PY) -m pytest
	$(MAKE) test-miniprogram
	$(MAKE) lint

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

# The WeChat mini-program (miniprogram/README.md): lint, DevTools' checks, jest (its end-to-end
# journeys start the backend from .venv on a free port, with a SQLite file and Redis db 10).
MP := miniprogram

$(MP)/node_modules/.installed: $(MP)/package-lock.json
	cd $(MP) && npm ci --no-audit --no-fund
	touch $@

test-miniprogram: install-dev $(MP)/node_modules/.installed
	scripts/services.sh redis
	cd $(MP) && npx eslint . && npx prettier --check .
	cd $(MP) && node tools/validate.js
	cd $(MP) && npx jest --ci

# WeChat's miniprogram-ci (~275 MB, installed on demand in miniprogram/tools/ci): the npm build
# into src/miniprogram_npm and an offline compile of the whole project, as an upload would.
$(MP)/tools/ci/node_modules/.installed: $(MP)/tools/ci/package-lock.json
	cd $(MP)/tools/ci && npm ci --no-audit --no-fund
	touch $@

miniprogram-ci: $(MP)/node_modules/.installed $(MP)/tools/ci/node_modules/.installed
	cd $(MP)/tools/ci && timeout 600 node compile.js

# PNGs of the main pages as the simulator renders them, through headless Debian chromium
# (apt-get install -y chromium fonts-wqy-microhei), into miniprogram/docs/screenshots.
miniprogram-screenshots: $(MP)/node_modules/.installed
	cd $(MP) && html=$$(mktemp -d) && \
	  SCREENSHOT_HTML_DIR=$$html npx jest -c tools/screenshots/jest.config.js && \
	  node tools/screenshots/shoot.js $$html docs/screenshots && rm -rf $$html

clean:
	rm -rf $(VENV) instance/dev.db .pytest_cache .ruff_cache $(MP)/node_modules $(MP)/tools/ci/node_modules
