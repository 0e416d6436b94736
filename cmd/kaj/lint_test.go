package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// lessonDockerfile is the Dockerfile of the course kaj automates; hadolint
// 2.15 reports DL3059 on lines 11 and 16 and DL3066 on line 18.
const lessonDockerfile = `FROM python:3.8-alpine

RUN adduser -D microblog

WORKDIR /home/microblog

COPY app app
COPY migrations migrations
COPY requirements.txt microblog.py config.py boot.sh ./
RUN python -m venv .venv
RUN .venv/bin/pip3 install -r requirements.txt

ENV FLASK_APP microblog.py

RUN chmod +x boot.sh
RUN chown -R microblog:microblog ./

USER microblog

EXPOSE 5000
ENTRYPOINT ["./boot.sh"]
`

const lessonTTY = "Dockerfile:11 DL3059 info: Multiple consecutive `RUN` instructions. Consider consolidation.\n" +
	"Dockerfile:16 DL3059 info: Multiple consecutive `RUN` instructions. Consider consolidation.\n" +
	"Dockerfile:18 DL3066 info: Non-numeric user-id may not be resolvable by host system\n"

// writeDockerfile writes src as "Dockerfile" in a new directory and
// changes into it, so findings name the file as a user would type it.
func writeDockerfile(t *testing.T, src string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
}

type lintRun struct {
	err            error
	stdout, stderr string
}

// runLint runs kaj lint in a clean environment: no HADOLINT_* variables
// and a home directory without configuration.
func runLint(t *testing.T, stdin string, args ...string) lintRun {
	t.Helper()
	return runLintEnv(t, nil, stdin, args...)
}

func runLintEnv(t *testing.T, vars map[string]string, stdin string, args ...string) lintRun {
	t.Helper()
	var out, errOut bytes.Buffer
	env := lintEnv{
		lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		home:   t.TempDir(),
	}
	err := lint(context.Background(), args, strings.NewReader(stdin), &out, &errOut, env)
	return lintRun{err, out.String(), errOut.String()}
}

func wantExit(t *testing.T, err error, code int) {
	t.Helper()
	var got exitCode
	switch {
	case code == 0 && err != nil:
		t.Fatalf("error %v, want success", err)
	case code != 0 && (!errors.As(err, &got) || int(got) != code):
		t.Fatalf("error %v, want exit status %d", err, code)
	}
}

func TestLintCommand_lesson(t *testing.T) {
	writeDockerfile(t, lessonDockerfile)
	r := runLint(t, "", "Dockerfile")
	wantExit(t, r.err, 1)
	if r.stdout != lessonTTY || r.stderr != "" {
		t.Errorf("stdout %q stderr %q, want %q", r.stdout, r.stderr, lessonTTY)
	}
}

func TestLintCommand_merged(t *testing.T) {
	merged := strings.Replace(lessonDockerfile, "RUN python -m venv .venv\nRUN ", "RUN python -m venv .venv && ", 1)
	merged = strings.Replace(merged, "RUN chmod +x boot.sh\nRUN ", "RUN chmod +x boot.sh && ", 1)
	writeDockerfile(t, merged)
	r := runLint(t, "", "--ignore", "DL3066", "Dockerfile")
	wantExit(t, r.err, 0)
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
}

func TestLintCommand_thresholdAndIgnore(t *testing.T) {
	writeDockerfile(t, "FROM ubuntu\nRUN a\nRUN b\n")
	tests := []struct {
		args   []string
		exit   int
		output []string // codes expected in the output
	}{
		{[]string{"Dockerfile"}, 1, []string{"DL3006", "DL3059"}},
		{[]string{"--threshold", "warning", "Dockerfile"}, 1, []string{"DL3006", "DL3059"}},
		{[]string{"--threshold=error", "Dockerfile"}, 0, []string{"DL3006", "DL3059"}},
		{[]string{"--threshold", "none", "Dockerfile"}, 0, []string{"DL3006", "DL3059"}},
		{[]string{"--ignore", "DL3006", "Dockerfile"}, 1, []string{"DL3059"}},
		{[]string{"--ignore", "DL3006", "--threshold", "warning", "Dockerfile"}, 0, []string{"DL3059"}},
		{[]string{"--ignore", "dl3006,DL3059", "Dockerfile"}, 0, nil},
		{[]string{"--ignore", "DL3006", "--ignore", "DL3059", "Dockerfile"}, 0, nil},
		{[]string{"Dockerfile", "--ignore", "DL3006", "--ignore=DL3059"}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runLint(t, "", tt.args...)
			wantExit(t, r.err, tt.exit)
			if n := strings.Count(r.stdout, "\n"); n != len(tt.output) {
				t.Errorf("%d findings, want %v:\n%s", n, tt.output, r.stdout)
			}
			for _, code := range tt.output {
				if !strings.Contains(r.stdout, code) {
					t.Errorf("output lacks %s:\n%s", code, r.stdout)
				}
			}
		})
	}
}

func TestLintCommand_formats(t *testing.T) {
	writeDockerfile(t, lessonDockerfile)

	r := runLint(t, "", "--format", "json", "Dockerfile")
	wantExit(t, r.err, 1)
	var findings []struct {
		Code, File, Level string
		Line              int
	}
	if err := json.Unmarshal([]byte(r.stdout), &findings); err != nil {
		t.Fatalf("json output: %v\n%s", err, r.stdout)
	}
	if len(findings) != 3 || findings[0].Line != 11 || findings[1].Level != "info" || findings[1].File != "Dockerfile" {
		t.Errorf("json findings %+v", findings)
	}

	r = runLint(t, "", "--format=sarif", "Dockerfile")
	wantExit(t, r.err, 1)
	var log struct {
		Version string
		Runs    []struct {
			Results []struct{ RuleID string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &log); err != nil {
		t.Fatalf("sarif output: %v", err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Results) != 3 || log.Runs[0].Results[0].RuleID != "DL3059" {
		t.Errorf("sarif log %+v", log)
	}
}

func TestLintCommand_stdin(t *testing.T) {
	r := runLint(t, lessonDockerfile, "-")
	wantExit(t, r.err, 1)
	if want := strings.ReplaceAll(lessonTTY, "Dockerfile:", "-:"); r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
}

func TestLintCommand_stdinCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	pr, pw := io.Pipe()
	defer pw.Close()
	err := lintCommand(ctx, []string{"-"}, pr, new(bytes.Buffer), new(bytes.Buffer))
	wantExit(t, err, 2)
}

func TestLintCommand_parseError(t *testing.T) {
	writeDockerfile(t, "FROM alpine:3.20\nRUN true\nFOO bar\n")
	r := runLint(t, "", "Dockerfile")
	wantExit(t, r.err, 2)
	if r.stdout != "" || r.stderr != "Dockerfile:3: unknown instruction: FOO\n" {
		t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
	}
}

func TestLintCommand_badUsage(t *testing.T) {
	writeDockerfile(t, lessonDockerfile)
	tests := []struct {
		args []string
		msg  string
	}{
		{nil, "give a Dockerfile"},
		{[]string{"missing/Dockerfile"}, "no such file"},
		{[]string{"--format", "xml", "Dockerfile"}, `unknown format "xml"`},
		{[]string{"--threshold", "fatal", "Dockerfile"}, `unknown threshold "fatal"`},
		{[]string{"--ignore", "rule1", "Dockerfile"}, `"RULE1" is not a rule code`},
		{[]string{"--colour", "Dockerfile"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runLint(t, "", tt.args...)
			wantExit(t, r.err, 2)
			if !strings.Contains(r.stderr, tt.msg) || r.stdout != "" {
				t.Errorf("stderr %q, want it to contain %q", r.stderr, tt.msg)
			}
		})
	}
}

func TestLintCommand_help(t *testing.T) {
	r := runLint(t, "", "--help")
	wantExit(t, r.err, 0)
	if !strings.Contains(r.stderr, "Usage: kaj lint") || !strings.Contains(r.stderr, "-threshold") {
		t.Errorf("help text %q", r.stderr)
	}
}

func TestLintCommand_dashDash(t *testing.T) {
	writeDockerfile(t, lessonDockerfile)
	if err := os.Rename("Dockerfile", "--format"); err != nil {
		t.Fatal(err)
	}
	r := runLint(t, "", "--", "--format")
	wantExit(t, r.err, 1)
	if !strings.HasPrefix(r.stdout, "--format:11 DL3059") {
		t.Errorf("stdout %q", r.stdout)
	}
}

// TestLintBinary builds kaj and runs `kaj lint` as a user would, checking
// the output and the process exit status.
func TestLintBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the kaj binary")
	}
	gotool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gotool); err != nil {
		t.Skipf("no go tool to build kaj with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "kaj")
	build := exec.Command(gotool, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	writeDockerfile(t, lessonDockerfile)

	tests := []struct {
		args   []string
		stdin  string
		exit   int
		stdout string
		stderr string
	}{
		{[]string{"lint", "Dockerfile"}, "", 1, lessonTTY, ""},
		{[]string{"lint", "--ignore", "DL3059,DL3066", "Dockerfile"}, "", 0, "", ""},
		{[]string{"lint", "-"}, "FROM alpine:3.20\nRUN true\nFOO bar\n", 2, "", "-:3: unknown instruction: FOO\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Stdin = strings.NewReader(tt.stdin)
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.exit || out.String() != tt.stdout || errOut.String() != tt.stderr {
				t.Errorf("exit %d stdout %q stderr %q, want %d %q %q", code, out.String(), errOut.String(), tt.exit, tt.stdout, tt.stderr)
			}
		})
	}
}
