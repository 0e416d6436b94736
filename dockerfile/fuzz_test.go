package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func FuzzLint(f *testing.F) {
	fuzzOpts := allRulesOn()
	for _, name := range []string{"Dockerfile_lesson", "Dockerfile_lesson_merged", "Dockerfile_lesson_heredoc"} {
		f.Add(readTestdata(f, name))
	}
	for _, cases := range ruleCases {
		for _, c := range cases {
			f.Add([]byte(c.src))
		}
	}
	for _, c := range loadSpecCases(f) {
		f.Add([]byte(c.Dockerfile))
	}
	f.Add([]byte(dockerfile500))
	f.Fuzz(func(t *testing.T, src []byte) {
		fs, err := Lint(src, fuzzOpts)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 || pe.Err == nil {
				t.Fatalf("error %#v, want *ParseError with a line", err)
			}
			return
		}
		lines := bytes.Count(src, []byte("\n")) + 1
		for i, f := range fs {
			if f.Line < 1 || f.EndLine < f.Line || f.EndLine > lines {
				t.Fatalf("finding %+v outside lines 1-%d", f, lines)
			}
			if !knownCode(f.Code) || f.Message == "" || f.Severity < SeverityStyle || f.Severity > SeverityError {
				t.Fatalf("malformed finding %+v", f)
			}
			// One rule may report a line more than once only with
			// different messages (one per missing label, say).
			if i > 0 && (fs[i-1].Line > f.Line || fs[i-1].Line == f.Line && (fs[i-1].Code > f.Code ||
				fs[i-1].Code == f.Code && fs[i-1].Message == f.Message)) {
				t.Fatalf("findings out of order or repeated: %+v then %+v", fs[i-1], f)
			}
		}
		for _, format := range Formats {
			if err := Write(io.Discard, format, []Result{{File: "Dockerfile", Findings: fs}}, WriteOptions{Color: true}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// dockerfile500 is a 500-line Dockerfile in the style of real multi-stage
// builds: twenty 25-line stages with chained, continued and heredoc RUNs,
// and a few mistakes to report.
var dockerfile500 = func() string {
	const stage = `FROM --platform=$BUILDPLATFORM golang:1.22-bookworm AS build%[1]d
ARG VERSION=1.%[1]d.0
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
WORKDIR /src
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       ca-certificates=20230311 \
       git=1:2.39.2-1.1 \
    && rm -rf /var/lib/apt/lists/*
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/.cache/go-build go mod download
COPY . .
RUN <<EOF
set -eu
go vet ./...
go build -ldflags "-X main.version=${VERSION}" -o /out/app%[1]d ./cmd/app
EOF
FROM debian:12-slim AS run%[1]d
LABEL org.opencontainers.image.title="app%[1]d" org.opencontainers.image.version="1.%[1]d.0"
RUN useradd --system app
RUN apt-get update && apt-get install -y curl | tee /var/log/install.log
COPY --from=build%[1]d /out/app%[1]d /usr/local/bin/app
USER app
HEALTHCHECK CMD ["app", "health"]
ENTRYPOINT ["app"]
`
	var b strings.Builder
	for i := range 20 {
		fmt.Fprintf(&b, stage, i)
	}
	return b.String()
}()

// allRulesOn switches on every rule, those off by default and those that
// need configuration too.
func allRulesOn() Options {
	o := Options{
		Override:          map[string]Severity{},
		TrustedRegistries: []string{"docker.io", "*.example.com"},
		LabelSchema:       map[string]string{"org.opencontainers.image.title": "text", "org.opencontainers.image.version": "semver", "maintainer": "email"},
		StrictLabels:      true,
	}
	for _, r := range Rules() {
		if r.Severity == SeverityIgnore {
			o.Override[r.Code] = SeverityInfo
		}
	}
	return o
}

// BenchmarkLint500 lints a 500-line Dockerfile with every rule on.
func BenchmarkLint500(b *testing.B) {
	src := []byte(dockerfile500)
	if n := bytes.Count(src, []byte("\n")); n != 500 {
		b.Fatalf("benchmark file has %d lines, want 500", n)
	}
	opts := allRulesOn()
	fs, err := Lint(src, opts)
	if err != nil {
		b.Fatal(err)
	}
	if len(fs) == 0 {
		b.Fatal("the benchmark file should produce findings")
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Lint(src, opts); err != nil {
			b.Fatal(err)
		}
	}
}
