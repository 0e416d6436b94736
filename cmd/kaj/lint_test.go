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

// configDockerfile breaks a rule at each severity, uses an ignore pragma,
// and has labels and an image from Docker Hub, so every configuration key
// has something to change.
const configDockerfile = `FROM ubuntu
LABEL org.example.name="app"
RUN a
# hadolint ignore=DL3059
RUN b
ADD app.py /app/
USER 1000
`

// withConfig lints configDockerfile in a directory holding .hadolint.yaml
// with yaml (none when yaml is ""), with terminal telling whether standard
// output is a terminal.
func withConfig(t *testing.T, yaml string, terminal bool, args ...string) lintRun {
	t.Helper()
	writeDockerfile(t, configDockerfile)
	if yaml != "" {
		if err := os.WriteFile(".hadolint.yaml", []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	env := lintEnv{lookup: func(string) (string, bool) { return "", false }, home: t.TempDir(), terminal: terminal}
	err := lint(context.Background(), append(args, "Dockerfile"), strings.NewReader(""), &out, &errOut, env)
	return lintRun{err, out.String(), errOut.String()}
}

// exitOf returns the exit status an error stands for.
func exitOf(err error) int {
	var code exitCode
	if errors.As(err, &code) {
		return int(code)
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestLintCommand_configKeys shows each .hadolint.yaml key changing the
// result as hadolint documents it.
func TestLintCommand_configKeys(t *testing.T) {
	base := withConfig(t, "", false)
	wantExit(t, base.err, 1)
	for _, line := range []string{"Dockerfile:1 DL3006 warning", "Dockerfile:6 DL3020 error"} {
		if !strings.Contains(base.stdout, line) {
			t.Fatalf("without configuration, output lacks %q:\n%s", line, base.stdout)
		}
	}
	if strings.Contains(base.stdout, "DL3059") || strings.Contains(base.stdout, "DL3026") || strings.Contains(base.stdout, "DL3049") {
		t.Fatalf("without configuration:\n%s", base.stdout)
	}
	tests := []struct {
		key, yaml string
		terminal  bool
		check     func(r lintRun) bool
	}{
		{"ignored", "ignored: [DL3006]", false, func(r lintRun) bool { return !strings.Contains(r.stdout, "DL3006") }},
		{"override.error", "override: {error: [DL3006]}", false, func(r lintRun) bool { return strings.Contains(r.stdout, "DL3006 error") }},
		{"override.warning", "override: {warning: [DL3020]}", false, func(r lintRun) bool { return strings.Contains(r.stdout, "DL3020 warning") }},
		{"override.info", "override: {info: [DL3006]}", false, func(r lintRun) bool { return strings.Contains(r.stdout, "DL3006 info") }},
		{"override.style", "override:\n  style:\n    - DL3006\n", false, func(r lintRun) bool { return strings.Contains(r.stdout, "DL3006 style") }},
		{"override switches a rule on", "override: {info: [DL3057]}", false, func(r lintRun) bool { return strings.Contains(r.stdout, "DL3057 info") }},
		{"failure-threshold", "failure-threshold: error\nignored: [DL3020]", false, func(r lintRun) bool { return exitOf(r.err) == 0 && strings.Contains(r.stdout, "DL3006") }},
		{"trustedRegistries", "trustedRegistries: [registry.example.com]", false, func(r lintRun) bool { return strings.Contains(r.stdout, "Dockerfile:1 DL3026 error") }},
		{"trustedRegistries allowing Docker Hub", "trustedRegistries: [docker.io]", false, func(r lintRun) bool { return !strings.Contains(r.stdout, "DL3026") }},
		{"label-schema", "label-schema: {maintainer: email}", false, func(r lintRun) bool {
			return strings.Contains(r.stdout, "Dockerfile:1 DL3049 info: Label `maintainer` is missing.")
		}},
		{"label-schema type", "label-schema: {org.example.name: url}", false, func(r lintRun) bool {
			return strings.Contains(r.stdout, "Dockerfile:2 DL3052 warning: Label `org.example.name` is not a valid URL.")
		}},
		{"strict-labels", "label-schema: {maintainer: text}\nstrict-labels: true", false, func(r lintRun) bool {
			return strings.Contains(r.stdout, "Dockerfile:2 DL3050")
		}},
		{"no-fail", "no-fail: true", false, func(r lintRun) bool { return exitOf(r.err) == 0 && strings.Contains(r.stdout, "DL3020") }},
		{"no-color", "no-color: true", true, func(r lintRun) bool { return !strings.Contains(r.stdout, "\x1b[") }},
		{"disable-ignore-pragma", "disable-ignore-pragma: true", false, func(r lintRun) bool { return strings.Contains(r.stdout, "Dockerfile:5 DL3059") }},
		{"format", "format: json", false, func(r lintRun) bool { return strings.HasPrefix(r.stdout, `[{"code":`) }},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			r := withConfig(t, tt.yaml, tt.terminal)
			if !tt.check(r) {
				t.Errorf("with %q: exit %d\n%s%s", tt.yaml, exitOf(r.err), r.stdout, r.stderr)
			}
		})
	}

	// Colours are what no-color turns off: on a terminal they are there.
	if r := withConfig(t, "", true); !strings.Contains(r.stdout, "\x1b[1;31merror\x1b[0m") {
		t.Errorf("no colours on a terminal:\n%q", r.stdout)
	}
}

func TestLintCommand_configErrors(t *testing.T) {
	for name, yaml := range map[string]string{
		"unknown key":        "ignore: [DL3006]",
		"bad rule code":      "ignored: [3006]",
		"bad severity":       "failure-threshold: loud",
		"bad label type":     "label-schema: {a: colour}",
		"not a mapping":      "- DL3006",
		"override not lists": "override: {error: DL3006}",
	} {
		t.Run(name, func(t *testing.T) {
			r := withConfig(t, yaml, false)
			wantExit(t, r.err, 2)
			if !strings.Contains(r.stderr, ".hadolint.yaml") || r.stdout != "" {
				t.Errorf("stderr %q stdout %q", r.stderr, r.stdout)
			}
		})
	}
}

// TestLintCommand_env covers the HADOLINT_* variables and how the layers
// stack: variables under the file, the file under flags.
func TestLintCommand_env(t *testing.T) {
	writeDockerfile(t, configDockerfile)
	tests := []struct {
		name  string
		vars  map[string]string
		args  []string
		exit  int
		has   []string
		hasNo []string
	}{
		{"ignore", map[string]string{"HADOLINT_IGNORE": "DL3006,DL3020"}, nil, 0, nil, []string{"DL3006", "DL3020"}},
		{"override", map[string]string{"HADOLINT_OVERRIDE_STYLE": "DL3020", "HADOLINT_OVERRIDE_ERROR": "DL3006"}, nil, 1, []string{"DL3020 style", "DL3006 error"}, nil},
		{"threshold", map[string]string{"HADOLINT_FAILURE_THRESHOLD": "error", "HADOLINT_IGNORE": "DL3020"}, nil, 0, []string{"DL3006"}, nil},
		{"no fail", map[string]string{"HADOLINT_NOFAIL": "yes"}, nil, 0, []string{"DL3020"}, nil},
		{"no fail false", map[string]string{"HADOLINT_NOFAIL": "0"}, nil, 1, nil, nil},
		{"registries", map[string]string{"HADOLINT_TRUSTED_REGISTRIES": "a.example,b.example"}, nil, 1, []string{"DL3026"}, nil},
		{"labels", map[string]string{"HADOLINT_REQUIRE_LABELS": "maintainer:email,org.example.name:url", "HADOLINT_STRICT_LABELS": "true"}, nil, 1, []string{"DL3049", "DL3052"}, []string{"DL3050"}},
		{"pragma", map[string]string{"HADOLINT_DISABLE_IGNORE_PRAGMA": "1"}, nil, 1, []string{"DL3059"}, nil},
		{"format", map[string]string{"HADOLINT_FORMAT": "gnu"}, nil, 1, []string{"kaj:Dockerfile:1: DL3006"}, nil},
		{"flag over variable", map[string]string{"HADOLINT_FAILURE_THRESHOLD": "style"}, []string{"--failure-threshold", "error", "--ignore", "DL3020"}, 0, nil, nil},
		{"lists add up", map[string]string{"HADOLINT_IGNORE": "DL3006"}, []string{"--ignore", "DL3020"}, 0, nil, []string{"DL3006", "DL3020"}},
		{"flags", nil, []string{"--error", "DL3048", "--style", "DL3020", "--trusted-registry", "x.example", "--require-label", "maintainer:email", "--strict-labels", "--disable-ignore-pragma", "--no-fail"}, 0,
			[]string{"DL3020 style", "DL3026", "DL3049", "DL3050", "DL3059"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runLintEnv(t, tt.vars, "", append(tt.args, "Dockerfile")...)
			wantExit(t, r.err, tt.exit)
			for _, s := range tt.has {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("output lacks %q:\n%s", s, r.stdout)
				}
			}
			for _, s := range tt.hasNo {
				if strings.Contains(r.stdout, s) {
					t.Errorf("output has %q:\n%s", s, r.stdout)
				}
			}
		})
	}

	// The file lies between the variables and the flags.
	if err := os.WriteFile(".hadolint.yaml", []byte("failure-threshold: error\nignored: [DL3020]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantExit(t, runLintEnv(t, map[string]string{"HADOLINT_FAILURE_THRESHOLD": "style"}, "", "Dockerfile").err, 0)
	wantExit(t, runLintEnv(t, nil, "", "--failure-threshold", "warning", "Dockerfile").err, 1)
}

// TestLintCommand_configSearch follows hadolint's search for a
// configuration file: the working directory, the user's config directory,
// ~/.hadolint/, the home directory; --config skips it.
func TestLintCommand_configSearch(t *testing.T) {
	writeDockerfile(t, configDockerfile)
	home, xdg := t.TempDir(), t.TempDir()
	write := func(path, yaml string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(vars map[string]string, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		env := lintEnv{lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }, home: home}
		args = append(args, "--disable-ignore-pragma", "Dockerfile")
		if err := lint(context.Background(), args, strings.NewReader(""), &out, &errOut, env); exitOf(err) > 1 {
			t.Fatalf("%v: %s", err, errOut.String())
		}
		return out.String()
	}
	// Each file ignores one rule; the one read is the one whose rule is
	// missing while the rule of the file it beats shows.
	check := func(what, out, gone, shown string) {
		t.Helper()
		if strings.Contains(out, gone) || !strings.Contains(out, shown) {
			t.Errorf("%s: want %s ignored and %s reported:\n%s", what, gone, shown, out)
		}
	}
	write(filepath.Join(home, ".hadolint.yml"), "ignored: [DL3006]")
	check("~/.hadolint.yml", run(nil), "DL3006", "DL3020")
	write(filepath.Join(home, ".hadolint", "config.yaml"), "ignored: [DL3020]")
	check("~/.hadolint/config.yaml", run(nil), "DL3020", "DL3006")
	write(filepath.Join(home, ".config", "hadolint.yaml"), "ignored: [DL3059]")
	check("~/.config/hadolint.yaml", run(nil), "DL3059", "DL3020")
	write(filepath.Join(xdg, "hadolint.yml"), "ignored: [DL3006]")
	check("$XDG_CONFIG_HOME/hadolint.yml", run(map[string]string{"XDG_CONFIG_HOME": xdg}), "DL3006", "DL3059")
	write(".hadolint.yaml", "ignored: [DL3020]")
	check("./.hadolint.yaml", run(map[string]string{"XDG_CONFIG_HOME": xdg}), "DL3020", "DL3006")
	write("other.yaml", "ignored: [DL3059]")
	check("--config", run(nil, "--config", "other.yaml"), "DL3059", "DL3020")
	r := runLint(t, "", "--config", "missing.yaml", "Dockerfile")
	wantExit(t, r.err, 2)
	if !strings.Contains(r.stderr, "missing.yaml") {
		t.Errorf("stderr %q", r.stderr)
	}
}

// TestLintCommand_severalFiles: every file is checked and named, a file
// that does not parse is reported and makes the status 2.
func TestLintCommand_severalFiles(t *testing.T) {
	writeDockerfile(t, lessonDockerfile)
	if err := os.WriteFile("Broken", []byte("FROM a:1\nFOO bar\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("Clean", []byte("FROM a:1\nUSER 1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runLint(t, "", "Dockerfile", "Clean")
	wantExit(t, r.err, 1)
	if r.stdout != lessonTTY {
		t.Errorf("stdout %q", r.stdout)
	}
	r = runLint(t, "", "--format", "checkstyle", "Clean", "Broken", "Dockerfile")
	wantExit(t, r.err, 2)
	for _, s := range []string{`<file name="Clean"></file>`, `<file name="Broken">`, `source="DL1000"`, `<file name="Dockerfile">`} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("checkstyle lacks %s:\n%s", s, r.stdout)
		}
	}
	if r.stderr != "Broken:2: unknown instruction: FOO\n" {
		t.Errorf("stderr %q", r.stderr)
	}
}

// TestLintCommand_allFormats: every format is accepted; codeclimate and
// codacy always exit 0, as hadolint's do.
func TestLintCommand_allFormats(t *testing.T) {
	writeDockerfile(t, lessonDockerfile)
	for _, f := range []string{"tty", "json", "checkstyle", "codeclimate", "gitlab_codeclimate", "gnu", "codacy", "sarif"} {
		r := runLint(t, "", "-f", f, "Dockerfile")
		want := 1
		if f == "codeclimate" || f == "codacy" {
			want = 0
		}
		if exitOf(r.err) != want || !strings.Contains(r.stdout, "DL3059") {
			t.Errorf("%s: exit %d\n%s%s", f, exitOf(r.err), r.stdout, r.stderr)
		}
	}
}
