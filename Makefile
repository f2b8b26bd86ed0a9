# aliasflow — the two commands a user needs: `make demo` and `make test`.
SHELL := /bin/bash
FUNCTIONS := release smoketest approval shift reconcile
LAMBDAS   := $(FUNCTIONS) hello
# nethttpomithttp2: net/http without its bundled HTTP/2 (a build tag of the
# standard library); the SDK's calls to AWS's API endpoints go over HTTP/1.1.
# -gcflags=all=-l: no inlining — the Lambdas wait on AWS calls, not on CPU,
# and each bootstrap is ~1 MB smaller. Together they keep every bootstrap
# inside the 10 MB budget with the SDK clients each needs.
GOFLAGS_LAMBDA := -trimpath -tags lambda.norpc,nethttpomithttp2 -gcflags=all=-l -ldflags='-s -w'
NPM_BIN := $(CURDIR)/node_modules/.bin

# Tests never hold real credentials and can reach loopback only: anything not
# pointed at a sandbox or fake on purpose fails fast at 127.0.0.1:9.
TEST_ENV := AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_SESSION_TOKEN= \
	AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_PROFILE= \
	AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
	AWS_ENDPOINT_URL=http://127.0.0.1:9 AWS_EC2_METADATA_DISABLED=true \
	ALIASFLOW_LOOPBACK_ONLY=1 ALIASFLOW_BIN_DIR=$(CURDIR)/dist/local \
	ALIASFLOW_ARTIFACTS=$(CURDIR)/artifacts \
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DISABLE_CLI_TELEMETRY=true
# The CLI's --version: the release tag or commit it is built from (the environment may
# set GOFLAGS=-buildvcs=false, which leaves debug.ReadBuildInfo without the commit).
CLI_VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
CLI_LDFLAGS := -X github.com/aliasflow/aliasflow/cli.version=$(CLI_VERSION)
CDK_ENV := JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DISABLE_CLI_TELEMETRY=true AWS_EC2_METADATA_DISABLED=true

.PHONY: all build build-local node-runtime test test-go lint fuzz validate-asl demo bench synth diff deploy clean tools deps cli-release

all: build

## build: every Lambda as dist/<name>/bootstrap for linux/arm64 (provided.al2023)
build: $(addprefix dist/,$(addsuffix /bootstrap,$(LAMBDAS)))

dist/hello/bootstrap: $(shell find examples/hello shared -name '*.go') go.mod
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build $(GOFLAGS_LAMBDA) -o $@ ./examples/hello

dist/%/bootstrap: $(shell find functions shared -name '*.go') go.mod
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build $(GOFLAGS_LAMBDA) -o $@ ./functions/$*

## build-local: the same Lambdas for this machine, for the sandbox, AWS's Lambda Runtime Interface
## Emulator (the sandbox's execution environments), plus the CLI
build-local:
	@mkdir -p dist/local bin
	@for f in $(FUNCTIONS); do CGO_ENABLED=0 go build $(GOFLAGS_LAMBDA) -o dist/local/$$f/bootstrap ./functions/$$f || exit 1; done
	CGO_ENABLED=0 go build $(GOFLAGS_LAMBDA) -o dist/local/hello/bootstrap ./examples/hello
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o dist/local/aws-lambda-rie github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
	CGO_ENABLED=0 go build -trimpath -ldflags='$(CLI_LDFLAGS)' -o bin/aliasflow ./cmd/aliasflow
	@$(MAKE) --no-print-directory $(LOCAL_TEMPLATES)
	@if command -v cmake >/dev/null && command -v g++ >/dev/null; then $(MAKE) --no-print-directory node-runtime; \
	else echo "note: the sandbox's Node.js functions need AWS's runtime interface client, whose install needs cmake and g++ (make deps), then: make node-runtime"; fi

## node-runtime: the sandbox's Node.js runtime (nodejs20.x, nodejs22.x functions): AWS's runtime interface client, npm
## aws-lambda-ric (sandbox/lambda/nodejs pins it), installed into dist/local/nodejs. Its install
## builds curl and aws-lambda-cpp from the sources it ships (cmake, g++, make: .ci/deps) and its
## native addon against this machine's Node headers — about 2 minutes, once.
NODE_RUNTIME := dist/local/nodejs/node_modules/aws-lambda-ric/rapid-client.node
node-runtime: $(NODE_RUNTIME)
$(NODE_RUNTIME): sandbox/lambda/nodejs/package.json sandbox/lambda/nodejs/package-lock.json
	@rm -rf dist/local/nodejs && mkdir -p dist/local/nodejs
	cp sandbox/lambda/nodejs/package.json sandbox/lambda/nodejs/package-lock.json dist/local/nodejs/
	cd dist/local/nodejs && $(if $(wildcard /usr/include/node/node_version.h),npm_config_nodedir=/usr) npm ci --no-audit --no-fund

## The local world (`aliasflow local`, make demo, the end-to-end tests) is created from the CDK
## app's synthesized templates: synthesized again only when the app or what it embeds changed
## (--no-staging: the Lambda assets stay where they are, nothing is copied). The world grants
## the GitHub Actions release role of one example repository (LOCAL_GITHUB_REPOSITORY), so the
## CI principal (aliasflow-ci) is evaluated as on AWS.
LOCAL_GITHUB_REPOSITORY ?= acme/shop
LOCAL_TEMPLATES := dist/local/templates/manifest.json
$(LOCAL_TEMPLATES): $(shell find infra shared -name '*.go' -not -name '*_test.go') infra/statemachine/promotion.asl.json cdk.json go.mod | tools
	@rm -rf dist/local/templates
	$(CDK_ENV) $(NPM_BIN)/cdk synth --no-notices --quiet --no-staging -o dist/local/templates -c assetDir=$(CURDIR)/dist/local -c githubRepository=$(LOCAL_GITHUB_REPOSITORY)

## cli-release: the CLI for linux and darwin on amd64 and arm64, as the release binaries
## dist/cli/aliasflow_<os>_<arch>.tar.gz with their SHA256SUMS
CLI_PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
cli-release:
	@rm -rf dist/cli && mkdir -p dist/cli
	@for p in $(CLI_PLATFORMS); do os=$${p%/*}; arch=$${p#*/}; d=dist/cli/aliasflow_$${os}_$${arch}; \
		mkdir -p $$d && CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -trimpath -ldflags='-s -w $(CLI_LDFLAGS)' -o $$d/aliasflow ./cmd/aliasflow || exit 1; \
		tar -C $$d -czf $$d.tar.gz aliasflow && rm -rf $$d && echo "$$d.tar.gz"; done
	cd dist/cli && sha256sum *.tar.gz > SHA256SUMS

tools: node_modules/.installed
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

## test: every test — unit, fuzz (briefly), state machine validation, CDK, sandbox end to end, browser
test: deps build build-local node-runtime tools validate-asl lint test-go fuzz

## deps: the Debian packages the tests need (chromium, awscli, jq, zip, shellcheck), installed
## with apt-get when root or passwordless sudo allows, else one line saying what to run
deps:
	@bash .ci/deps

validate-asl: tools
	$(NPM_BIN)/asl-validator --json-path infra/statemachine/promotion.asl.json

## lint: staticcheck (go.mod's tool, honnef.co/go/tools) on the whole module, every default check;
## a finding that must stay carries a //lint:ignore with its reason
lint:
	go tool staticcheck ./...

test-go:
	$(TEST_ENV) go vet ./...
	$(TEST_ENV) go test -p 2 -timeout 40m ./...
	@cat artifacts/e2e/*.txt 2>/dev/null || true

## fuzz: every Fuzz target briefly (FUZZTIME, -fuzztime's value: 5000x executions each; e.g. FUZZTIME=60s for longer)
fuzz:
	$(TEST_ENV) bash .ci/fuzz $${FUZZTIME:-5000x}

## demo: a whole promotion on this machine, through `aliasflow local`
demo: build-local
	$(TEST_ENV) ALIASFLOW_LOOPBACK_ONLY=1 ./bin/aliasflow demo

## bench: measure and write BENCHMARKS.md
bench: build build-local tools
	$(TEST_ENV) go run ./bench

## synth: the CloudFormation templates, offline, into cdk.out
synth: build tools
	$(CDK_ENV) $(NPM_BIN)/cdk synth --no-notices --quiet $(CDK_ARGS)

## diff, deploy: against the account of your AWS credentials (checked first, before anything is built);
## CDK_ARGS="-c key=value …" passes context (docs/deploy.md), e.g. -c sample=false -c targetsFile=targets.json
diff: tools
	@$(CDK_ENV) bash .ci/require-credentials diff
	@$(MAKE) --no-print-directory build
	$(CDK_ENV) $(NPM_BIN)/cdk diff --no-notices --all $(CDK_ARGS)

deploy: tools
	@$(CDK_ENV) bash .ci/require-credentials deploy
	@$(MAKE) --no-print-directory build
	$(CDK_ENV) $(NPM_BIN)/cdk deploy --no-notices --all $(CDK_ARGS)

clean:
	rm -rf dist bin cdk.out artifacts
