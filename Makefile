# `make book` builds the site into _build/html; `make test` runs every test.
# Both first (re)create .venv from requirements.txt when it is missing or older.
# `make lab` runs what students install: .venv-student, from requirements-student.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STUDENT_VENV := .venv-student
STUDENT_STAMP := $(STUDENT_VENV)/.installed

.PHONY: book test lab release grade bench lint clean

$(STAMP): requirements.txt
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(STAMP)

$(STUDENT_STAMP): requirements-student.txt
	rm -rf $(STUDENT_VENV)
	$(PYTHON) -m venv $(STUDENT_VENV)
	$(STUDENT_VENV)/bin/pip install --quiet --upgrade pip
	$(STUDENT_VENV)/bin/pip install --quiet -r requirements-student.txt
	$(STUDENT_VENV)/bin/pip install --quiet --no-deps -e .
	touch $(STUDENT_STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going

test: $(STAMP)
	$(BIN)/python -m pytest

lab: $(STUDENT_STAMP)
	$(STUDENT_VENV)/bin/python -m cnn_course.lab

release: $(STAMP)
	$(BIN)/python -m cnn_course.release

# make grade ASSIGNMENT=01_convolution SUBMISSIONS=path/to.zip [OUT=grading-out]
# (see book/instructors.md; OUT defaults to grading-out/, which git ignores)
OUT ?= grading-out
grade: $(STAMP)
	@test -n "$(ASSIGNMENT)" -a -n "$(SUBMISSIONS)" || { echo "usage: make grade ASSIGNMENT=NN_topic SUBMISSIONS=file.zip [OUT=grading-out]" >&2; exit 2; }
	$(BIN)/cnn-course grade --assignment $(ASSIGNMENT) --submissions $(SUBMISSIONS) --out $(OUT)

bench: $(STAMP)
	$(BIN)/python bench/conv.py
	$(BIN)/python bench/exercises.py
	$(BIN)/python bench/book.py
	$(BIN)/python bench/grading.py

lint: $(STAMP)
	$(BIN)/ruff check cnn_course tests bench book/_ext
	$(BIN)/ruff format --check cnn_course tests bench book/_ext

clean:
	rm -rf _build .pytest_cache .hypothesis
