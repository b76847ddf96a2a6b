# threadsync — make run (live demo), make test (everything CI runs), make bench.
SHELL := /usr/bin/env bash
GO ?= go
BIN := bin
DATA := data
REDIS_URL ?= redis://127.0.0.1:6379/0
export REDIS_URL
DEMO_NATS_LISTEN ?= 127.0.0.1:14222
SIM_LISTEN ?= 127.0.0.1:8089

.PHONY: all build redis run test lint bench bench-scale chaos clean

all: build

build:
	$(GO) build -o $(BIN)/threadsync ./cmd/threadsync
	$(GO) build -o $(BIN)/providersim ./cmd/providersim
	$(GO) build -o $(BIN)/slaalerts ./cmd/slaalerts

redis:
	@deploy/local/ensure-redis.sh

# The demo: simulated provider accounts with live traffic, threadsync on an
# embedded JetStream, and the events printed as they arrive. Ctrl-C stops all.
# providersim's inboxes are new on every run, so the demo's stream and Redis
# keys are too. Every demo account gets a reply policy of 2 minutes with a
# warning a minute before, so warnings, breaches and resolutions show.
run: build redis
	@rm -rf $(DATA)/nats && mkdir -p $(DATA)
	@set -e; \
	stop() { kill $$sim $$ts 2>/dev/null; wait 2>/dev/null; }; \
	trap stop EXIT; trap 'stop; trap - EXIT; exit 0' INT TERM; \
	$(BIN)/providersim -listen $(SIM_LISTEN) -accounts-out $(DATA)/accounts.demo.yaml 2>$(DATA)/providersim.log & sim=$$!; \
	for i in $$(seq 1 100); do curl -fs http://$(SIM_LISTEN)/healthz >/dev/null 2>&1 && break; sleep 0.1; done; \
	printf 'sla_policies:\n  demo:\n    reply_within: 2m\n    warn_before: 1m\ndefault_sla: demo\n' >> $(DATA)/accounts.demo.yaml; \
	THREADSYNC_ACCOUNTS=$(DATA)/accounts.demo.yaml THREADSYNC_EMBEDDED_NATS=true \
	THREADSYNC_EMBEDDED_NATS_LISTEN=$(DEMO_NATS_LISTEN) THREADSYNC_DATA_DIR=$(DATA)/nats \
	THREADSYNC_KEY_PREFIX=threadsync-demo-$$(date +%s) THREADSYNC_STREAM=DEMO \
	$(BIN)/threadsync run 2>$(DATA)/threadsync.log & ts=$$!; \
	for i in $$(seq 1 100); do (exec 3<>/dev/tcp/$(subst :,/,$(DEMO_NATS_LISTEN))) 2>/dev/null && break; sleep 0.1; done; \
	echo "providersim on http://$(SIM_LISTEN), threadsync logging to $(DATA)/threadsync.log; events follow (Ctrl-C to stop)"; \
	NATS_URL=nats://$(DEMO_NATS_LISTEN) THREADSYNC_STREAM=DEMO $(BIN)/threadsync tail

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff

test: lint
	@deploy/local/ensure-redis.sh --with-binary
	@deploy/local/ensure-alertmanager.sh >/dev/null
	$(GO) test -race -count=1 -timeout 30m ./...
	cd deploy/helm && $(GO) mod tidy -diff && $(GO) test -count=1 ./...

# The full crash, outage and sustained-fault tests: 20 SIGKILLs under live
# traffic of 5,000 messages, with and without throttling all along; Redis,
# NATS and both stopped for 30 s each; every provider's sustained faults
# (429 every 3rd/5th/7th request, 503 bursts, slow answers, resets, bodies
# cut short) over an initial sync of 160 threads and a mutation.
chaos: redis
	@set -o pipefail; THREADSYNC_CHAOS=full $(GO) test -race -count=1 -timeout 40m -run '^(TestChaos|TestChaosThrottled|TestOutages)$$' -v ./cmd/threadsync/ ./pollers/ | grep -E '^(chaos:|outages:|--- |FAIL|ok)'
	@set -o pipefail; THREADSYNC_CHAOS=full $(GO) test -race -count=1 -timeout 40m -run '^TestConformance/Sustained$$' -v ./pollers/... | grep -E '^(sustained:|--- FAIL|FAIL|ok)'

# Benchmarks print the per-provider table, the many-accounts table, the
# fault tax (each provider's initial sync with and without a 429 on every
# 5th request; about 9 minutes, since every 429 asks for a second), the
# reply deadlines of 100,000 episodes over 10,000 accounts (about 8
# minutes: the deadlines come due over 5), the Mirakl table, the scale
# benchmark at 10,000 accounts (about 10 minutes) and, last, one
# machine-readable line.
bench: redis
	@mkdir -p $(DATA)
	@echo "| provider | threads | initial sync events/s | unchanged sweep threads/s | API requests per changed thread (1% changed) |"
	@echo "|---|---|---|---|---|"
	@set -o pipefail; $(GO) test -run '^$$' -bench '^BenchmarkProvider$$' -benchtime 1x -count 1 -timeout 30m ./pollers/... | tee $(DATA)/bench-providers.out | grep '^|'
	@echo
	@set -o pipefail; $(GO) test -run '^$$' -bench '^BenchmarkManyAccounts$$' -benchtime 1x -count 1 -timeout 30m ./pollers/mirakl/ | tee $(DATA)/bench-scale.out | grep '^|'
	@echo
	@echo "| provider | threads | fault-free: s | fault-free: requests | 429 every 5th: s | 429 every 5th: requests | refused | (requests − refused) ÷ fault-free |"
	@echo "|---|---|---|---|---|---|---|---|"
	@# go test runs benchmark binaries one at a time; these mostly wait out
	@# Retry-After, so the five run side by side.
	@set -o pipefail; pids=(); for p in hubspot mirakl olx partizap selfcommunity; do \
		$(GO) test -run '^$$' -bench '^BenchmarkFaultTax$$' -benchtime 1x -count 1 -timeout 60m ./pollers/$$p/ > $(DATA)/bench-faulttax-$$p.out 2>&1 & pids+=($$!); \
	done; fail=0; for pid in "$${pids[@]}"; do wait $$pid || fail=1; done; \
	cat $(DATA)/bench-faulttax-*.out | grep '^|'; \
	if [ $$fail -ne 0 ]; then grep -h -E 'FAIL|Error|error' $(DATA)/bench-faulttax-*.out; exit 1; fi
	@echo
	@echo "| reply deadlines | accounts | open episodes | warnings late, ms p50 / p99 / max | breaches late, ms p50 / p99 / max | Redis commands/s, quiet → window | Redis commands per warning or breach | polls the deadlines caused |"
	@echo "|---|---|---|---|---|---|---|---|"
	@set -o pipefail; $(GO) test -run '^$$' -bench '^BenchmarkDeadlines$$' -benchtime 1x -count 1 -timeout 30m ./pollers/mirakl/ | tee $(DATA)/bench-deadlines.out | grep '^|'
	@echo
	@set -o pipefail; $(GO) test -run '^$$' -bench '^BenchmarkMirakl$$' -benchtime 1x -count 1 -timeout 30m ./pollers/mirakl/ | tee $(DATA)/bench.out | grep -v '^\(goos\|goarch\|pkg\|cpu\|PASS\|ok\|Benchmark\|bench:\)'
	@echo
	@echo "$(SCALE_HEADER)"
	@echo "$(SCALE_RULE)"
	@set -o pipefail; $(SCALE_RUN) SCALE_ACCOUNTS=10000 $(SCALE_BENCH) | tee $(DATA)/bench-scale-10000.out | grep '^|'
	@echo
	@echo "$$(grep '^bench:' $(DATA)/bench.out) $$(grep '^scale:' $(DATA)/bench-scale-10000.out | sed 's/^scale: //')"

# The scale benchmark alone, at 1,000, 10,000 and 30,000 accounts of 100
# threads (SCALE_SIZES), every part its own process: providersim,
# nats-server, a private redis-server and threadsync run. SCALE_PROFILES=dir
# keeps threadsync's heap and idle CPU profiles.
SCALE_SIZES ?= 1000 10000 30000
SCALE_HEADER := | accounts | threads | initial sync s | events | events/s | RSS after sync MiB | RSS steady MiB | Redis B/thread | idle polls/s | CPU s per 1,000 idle polls | idle CPU % of a core | live messages | detection ms p50 / p99 / max | goroutines |
SCALE_RULE := |---|---|---|---|---|---|---|---|---|---|---|---|---|---|
SCALE_RUN := deploy/local/ensure-redis.sh --with-binary >/dev/null &&
SCALE_BENCH = $(GO) test -run '^$$' -bench '^BenchmarkScale$$' -benchtime 1x -count 1 -timeout 3h ./cmd/threadsync/
bench-scale:
	@mkdir -p $(DATA)
	@echo "$(SCALE_HEADER)"
	@echo "$(SCALE_RULE)"
	@set -o pipefail; for n in $(SCALE_SIZES); do \
		$(SCALE_RUN) SCALE_ACCOUNTS=$$n $(SCALE_BENCH) | tee $(DATA)/bench-scale-$$n.out | grep '^|'; \
	done
	@grep -h '^scale:' $(DATA)/bench-scale-*.out

clean:
	rm -rf $(BIN) $(DATA)
