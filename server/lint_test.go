package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestLint_bounds(t *testing.T) {
	f := newFixture(t)
	// 3.5 MB of Dockerfile, under the body limit: refused before the
	// linter sees it.
	huge := "FROM python:3.8-alpine\n" + strings.Repeat("RUN echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 3500000/60)
	f.expect(f.as("POST", "/api/v1/lint", `{"dockerfile":`+quote(huge)+`}`), 413, `"field":"dockerfile"`, "256 KiB")
	// Just under the bound, with a finding on nearly every line: the
	// answer lists the first ones and counts the rest.
	many := "FROM python:3.8-alpine\n" + strings.Repeat("RUN a\n", 200<<10/6)
	start := time.Now()
	b := f.expect(f.as("POST", "/api/v1/lint", `{"dockerfile":`+quote(many)+`}`), 200, `"failed":true`)
	var out lintResponse
	if err := json.Unmarshal([]byte(b), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Findings) != maxFindings || out.Omitted < 30000 || len(b) > 1<<20 {
		t.Fatalf("%d findings, %d omitted, %d bytes; want %d listed, the rest counted, under 1 MiB", len(out.Findings), out.Omitted, len(b), maxFindings)
	}
	t.Logf("linted %d KiB in %v: %d findings, answer %d KiB", len(many)>>10, time.Since(start).Round(time.Millisecond), len(out.Findings)+out.Omitted, len(b)>>10)
}

func TestLint_concurrencyBounded(t *testing.T) {
	f := newFixture(t)
	defer func(w time.Duration) { lintWait = w }(lintWait)
	lintWait = 50 * time.Millisecond
	for range cap(lintSlots) {
		lintSlots <- struct{}{}
	}
	resp := f.as("POST", "/api/v1/lint", `{"dockerfile":"FROM x:1\n"}`)
	retry := resp.Header.Get("Retry-After")
	f.expect(resp, 429, "lints are running")
	if retry == "" {
		t.Error("429 without Retry-After")
	}
	<-lintSlots // one slot frees: the next lint runs
	f.expect(f.as("POST", "/api/v1/lint", `{"dockerfile":"FROM x:1\n"}`), 200)
	for range cap(lintSlots) - 1 {
		<-lintSlots
	}
}
