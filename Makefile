# make run: install into .venv, then reproduce the pipeline (embedded demo dataset by default).
# make test: install the same way, then run the test suite.
# make test-fast: the edit loop, everything not marked slow (make test still runs every test).
# make coverage: the whole suite under coverage.py, then the line coverage of moodflow/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the musicnn reference (tests and benchmarks only): TensorFlow in an interpreter of its own
REF := $(VENV)/reference
REF_STAMP := $(REF)/.installed
PURELIB = -c "import sysconfig; print(sysconfig.get_paths()['purelib'])"

.PHONY: run test test-fast coverage install reference clean exps check

run: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

test: $(STAMP) $(REF_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n 2 --dist loadfile -q

test-fast: $(STAMP) $(REF_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n 2 --dist loadfile -q -m "not slow"

# the processes the tests start (dvc's stages, the CLI) are measured too ([tool.coverage.*] in pyproject.toml)
coverage: $(STAMP) $(REF_STAMP)
	rm -f .coverage .coverage.*
	PATH="$(CURDIR)/$(BIN):$$PATH" COVERAGE_FILE="$(CURDIR)/.coverage" $(BIN)/python -m coverage run -m pytest -n 2 --dist loadfile -q
	$(BIN)/python -m coverage combine -q
	$(BIN)/python -m coverage report --include='moodflow/*' --skip-covered --sort=cover

# experiments side by side: what changed, and always the best model and its score (--keep: also
# when nothing differs yet, right after `make run`); code hashes, counts, stds and texts left out
exps: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc exp show --md --only-changed \
	  --keep '^best\.(feature_set|model|metric|score|significant_lead)$$' \
	  --drop '.*(_std|pearson|rmse|n_tracks|status|predictor|beats_chance|diverged_folds).*|^best\.(task|low|high|lead.*|runner_up)$$|models|features/.*|data/.*|moodflow/.*|stages/.*'

check: $(STAMP)
	$(BIN)/moodflow check

install: $(STAMP)

reference: $(REF_STAMP)

# tensorflow-cpu pins h5py<3.15 (moodflow pins 3.16) and must never share a process with torch,
# so the reference musicnn runs in its own venv; a .pth file puts the project's packages (numpy,
# librosa, musicnn) on its path after its own. tf-keras (legacy Keras, which musicnn's
# tf.compat.v1.layers need) requires the full `tensorflow` wheel by name: --no-deps.
$(REF_STAMP): requirements-reference.txt | $(STAMP)
	test -x $(REF)/bin/python || $(BIN)/python -m venv $(REF)
	$(BIN)/python $(PURELIB) > "$$($(REF)/bin/python $(PURELIB))/zz_moodflow_project.pth"
	$(REF)/bin/python -m pip install -q --no-compile -r requirements-reference.txt
	$(REF)/bin/python -m pip install -q --no-compile --no-deps tf-keras==2.21.0
	touch $(REF_STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# byte-compile on both cores (pip compiles one file at a time), skipping packages' own test suites;
	# a few packages ship templates that are not Python, hence `|| true`
	$(BIN)/python -m pip install -q --no-compile -r requirements.txt
	# musicnn ships the weights of the `musicnn` feature set; its metadata pins numpy<1.17 and
	# TensorFlow, neither of which moodflow needs (it reads the checkpoints itself): no deps
	$(BIN)/python -m pip install -q --no-compile --no-deps musicnn==0.1.0
	$(BIN)/python -m compileall -q -j 0 -x '/tests/' $(VENV)/lib > /dev/null || true
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

clean:
	rm -rf $(VENV)
