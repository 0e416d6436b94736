package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kajhq/kaj/dockerfile"
)

const lintUsage = `Usage: kaj lint [flags] FILE|- ...

Checks Dockerfiles with hadolint's rules and the ShellCheck checks most met
in RUN lines; - reads one from standard input. kaj lint reads hadolint's
configuration, so a project's .hadolint.yaml, its HADOLINT_* variables and
its CI flags work as they are.

Configuration, each layer over the one before, as hadolint layers them:
  1. HADOLINT_* environment variables
  2. the first file found of: --config FILE; ./.hadolint.yaml or .yml;
     $XDG_CONFIG_HOME/hadolint.yaml or .yml ($XDG_CONFIG_HOME defaults to
     ~/.config); ~/.hadolint/hadolint.yaml, .yml, config.yaml or .yml;
     ~/.hadolint.yaml or .yml
  3. flags
Settings replace earlier ones; rule lists add to them.

Configuration file keys (YAML), with their variable:
  ignored: [DL3008, SC2086]      rules never to report       HADOLINT_IGNORE=DL3008,SC2086
  override:                      report rules at another severity; a rule
    error: [DL3015]              off by default (DL3057, DL1001) is switched on
    warning: []                                              HADOLINT_OVERRIDE_ERROR, _WARNING,
    info: []                                                 _INFO, _STYLE (comma lists)
    style: []
  failure-threshold: info        exit 1 only for findings at or above it:
                                 error, warning, info, style, or none to
                                 never fail              HADOLINT_FAILURE_THRESHOLD
  trustedRegistries: [docker.io, "*.example.com"]
                                 DL3026: images only from these registries
                                                             HADOLINT_TRUSTED_REGISTRIES
  label-schema: {maintainer: email, org.opencontainers.image.created: rfc3339}
                                 DL3049-DL3058: labels each stage needs, and
                                 their type: text, url, rfc3339, spdx, hash,
                                 semver or email         HADOLINT_REQUIRE_LABELS=maintainer:email
  strict-labels: true            DL3050: only labels the schema names
                                                             HADOLINT_STRICT_LABELS
  no-fail: true                  exit 0 whatever is found    HADOLINT_NOFAIL
  no-color: true                 no colours on a terminal    NO_COLOR (set at all)
  disable-ignore-pragma: true    disregard "# hadolint ignore=" and
                                 "# shellcheck disable=" comments
                                                             HADOLINT_DISABLE_IGNORE_PRAGMA
  format: tty                    as --format                 HADOLINT_FORMAT
Boolean variables are true for 1, y, yes, on or true.

Comments in a Dockerfile: "# hadolint ignore=DL3059,SC2086" silences rules
for the next instruction, "# hadolint global ignore=..." for the file,
"# hadolint stage ignore=..." up to the next FROM; "# shellcheck
disable=SC2086" does as hadolint ignore does.

Exit status: 0 when no finding reaches the failure threshold (and always
for codeclimate and codacy output, as hadolint), 1 when one does, 2 when a
file cannot be read or does not parse, or the command line or
configuration is wrong.

Flags:
`

// lintEnv is what kaj lint reads from its surroundings; tests give their own.
type lintEnv struct {
	lookup   func(string) (string, bool) // environment variables
	home     string                      // the user's home directory, "" if unknown
	terminal bool                        // standard output is a terminal
}

func osLintEnv(stdout io.Writer) lintEnv {
	home, _ := os.UserHomeDir()
	terminal := false
	if f, ok := stdout.(*os.File); ok {
		if st, err := f.Stat(); err == nil {
			terminal = st.Mode()&fs.ModeCharDevice != 0
		}
	}
	return lintEnv{lookup: os.LookupEnv, home: home, terminal: terminal}
}

// lintCommand runs `kaj lint`.
func lintCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return lint(ctx, args, stdin, stdout, stderr, osLintEnv(stdout))
}

func lint(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env lintEnv) error {
	fl := flag.NewFlagSet("kaj lint", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var (
		cfgFile            string
		flags              dockerfile.Config
		format, threshold  string
		errs, warns, infos codeList
		styles, ignore     codeList
		registries, labels stringList
	)
	fl.StringVar(&cfgFile, "config", "", "read hadolint's configuration from `FILE` instead of looking for one")
	fl.StringVar(&cfgFile, "c", "", "short for --config")
	fl.StringVar(&format, "format", "", "output `format`: "+strings.Join(dockerfile.Formats, ", ")+" (default tty)")
	fl.StringVar(&format, "f", "", "short for --format")
	fl.StringVar(&threshold, "failure-threshold", "", "exit 1 when a finding is at or above this `level`: error, warning, info, style or none (default info)")
	fl.StringVar(&threshold, "t", "", "short for --failure-threshold")
	fl.StringVar(&threshold, "threshold", "", "same as --failure-threshold")
	fl.Var(&ignore, "ignore", "rule `CODE` not to report, like DL3059; repeat the flag or separate codes with commas")
	fl.Var(&errs, "error", "report rule `CODE` as an error")
	fl.Var(&warns, "warning", "report rule `CODE` as a warning")
	fl.Var(&infos, "info", "report rule `CODE` as info")
	fl.Var(&styles, "style", "report rule `CODE` as style")
	fl.Var(&registries, "trusted-registry", "allow FROM images from `REGISTRY` only (DL3026); repeatable")
	fl.Var(&labels, "require-label", "require `LABEL:TYPE` in every stage (DL3049-DL3058); repeatable")
	strict := fl.Bool("strict-labels", false, "report labels the label schema does not name (DL3050)")
	noPragma := fl.Bool("disable-ignore-pragma", false, "disregard ignore comments in the Dockerfile")
	noFail := fl.Bool("no-fail", false, "exit 0 whatever is found")
	noColor := fl.Bool("no-color", false, "no colours, even on a terminal")
	fl.Usage = func() {
		fmt.Fprint(fl.Output(), lintUsage)
		fl.PrintDefaults()
	}

	files, err := parseInterspersed(fl, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return exitCode(2) // the flag package has printed what is wrong
	}
	fail := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "kaj lint: "+format+"\n", a...)
		return exitCode(2)
	}

	// The flags as a configuration layer: only those given.
	set := map[string]bool{}
	fl.Visit(func(f *flag.Flag) { set[f.Name] = true })
	boolFlag := func(v *bool, name string) *bool {
		if set[name] {
			return v
		}
		return nil
	}
	flags.Format = format
	flags.Ignored = ignore
	flags.Override = dockerfile.ConfigOverride{Error: errs, Warning: warns, Info: infos, Style: styles}
	flags.TrustedRegistries = registries
	flags.StrictLabels = boolFlag(strict, "strict-labels")
	flags.DisableIgnorePragma = boolFlag(noPragma, "disable-ignore-pragma")
	flags.NoFail = boolFlag(noFail, "no-fail")
	flags.NoColor = boolFlag(noColor, "no-color")
	if threshold != "" {
		sev, err := dockerfile.ParseSeverity(threshold)
		if err != nil || sev == dockerfile.SeverityIgnore {
			return fail("unknown threshold %q: use error, warning, info, style or none", threshold)
		}
		flags.FailureThreshold = &sev
	}
	if flags.LabelSchema, err = labelSchema(labels); err != nil {
		return fail("%v", err)
	}

	fromEnv, err := envConfig(env.lookup)
	if err != nil {
		return fail("%v", err)
	}
	fromFile, err := fileConfig(cfgFile, env)
	if err != nil {
		return fail("%v", err)
	}
	cfg := fromEnv.Merge(fromFile).Merge(flags)

	opts, err := cfg.Options()
	if err != nil {
		return fail("%v", err)
	}
	out := cfg.OutputFormat()
	if out == "" {
		out = "tty"
	}
	if !slices.Contains(dockerfile.Formats, out) {
		return fail("unknown format %q: use %s", out, strings.Join(dockerfile.Formats, ", "))
	}
	level := dockerfile.SeverityInfo
	if cfg.FailureThreshold != nil {
		level = *cfg.FailureThreshold
	}
	if len(files) == 0 {
		return fail("give a Dockerfile to check, or - for standard input")
	}

	results := make([]dockerfile.Result, 0, len(files))
	broken := false
	for _, name := range files {
		var src []byte
		if name == "-" {
			src, err = readAll(ctx, stdin)
		} else {
			src, err = os.ReadFile(name)
		}
		if err != nil {
			return fail("reading Dockerfile: %v", err)
		}
		findings, err := dockerfile.Lint(src, opts)
		var perr *dockerfile.ParseError
		if errors.As(err, &perr) {
			fmt.Fprintf(stderr, "%s:%d: %v\n", name, perr.Line, perr.Err)
			broken = true
			results = append(results, dockerfile.Result{File: name, Err: perr})
			continue
		}
		if err != nil {
			return fail("%v", err)
		}
		results = append(results, dockerfile.Result{File: name, Findings: findings})
	}

	_, noColorEnv := env.lookup("NO_COLOR")
	color := out == "tty" && env.terminal && !noColorEnv && (cfg.NoColor == nil || !*cfg.NoColor)
	if err := dockerfile.Write(stdout, out, results, dockerfile.WriteOptions{Color: color}); err != nil {
		return err
	}
	if broken {
		return exitCode(2)
	}
	if (cfg.NoFail != nil && *cfg.NoFail) || out == "codeclimate" || out == "codacy" {
		return nil
	}
	for _, r := range results {
		for _, f := range r.Findings {
			if f.Severity >= level {
				return exitCode(1)
			}
		}
	}
	return nil
}

// configNames are the files hadolint looks for, in order, when no
// --config is given: the project's, then the user's.
func configNames(env lintEnv) []string {
	names := []string{".hadolint.yaml", ".hadolint.yml"}
	xdg, ok := env.lookup("XDG_CONFIG_HOME")
	if !ok || xdg == "" {
		if env.home == "" {
			return names
		}
		xdg = filepath.Join(env.home, ".config")
	}
	names = append(names, filepath.Join(xdg, "hadolint.yaml"), filepath.Join(xdg, "hadolint.yml"))
	if env.home != "" {
		for _, n := range []string{"hadolint.yaml", "hadolint.yml", "config.yaml", "config.yml"} {
			names = append(names, filepath.Join(env.home, ".hadolint", n))
		}
		names = append(names, filepath.Join(env.home, ".hadolint.yaml"), filepath.Join(env.home, ".hadolint.yml"))
	}
	return names
}

// fileConfig reads the configuration file: the one given, or the first of
// configNames that exists. No file is the empty configuration.
func fileConfig(explicit string, env lintEnv) (dockerfile.Config, error) {
	path := explicit
	if path == "" {
		for _, n := range configNames(env) {
			if st, err := os.Stat(n); err == nil && !st.IsDir() {
				path = n
				break
			}
		}
	}
	if path == "" {
		return dockerfile.Config{}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return dockerfile.Config{}, fmt.Errorf("reading configuration: %w", err)
	}
	cfg, err := dockerfile.ParseConfig(data)
	if err != nil {
		return dockerfile.Config{}, fmt.Errorf("reading configuration %s: %w", path, err)
	}
	return cfg, nil
}

// envConfig reads hadolint's HADOLINT_* variables.
func envConfig(lookup func(string) (string, bool)) (dockerfile.Config, error) {
	var c dockerfile.Config
	list := func(name string) []string {
		v, _ := lookup(name)
		var out []string
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	truthy := func(name string) *bool {
		v, ok := lookup(name)
		if !ok {
			return nil
		}
		b := slices.Contains([]string{"1", "y", "on", "true", "yes"}, strings.ToLower(v))
		return &b
	}
	c.NoFail = truthy("HADOLINT_NOFAIL")
	if _, ok := lookup("NO_COLOR"); ok {
		t := true
		c.NoColor = &t
	}
	c.StrictLabels = truthy("HADOLINT_STRICT_LABELS")
	c.DisableIgnorePragma = truthy("HADOLINT_DISABLE_IGNORE_PRAGMA")
	// Like hadolint, unknown formats in the list are passed over.
	for _, f := range list("HADOLINT_FORMAT") {
		if slices.Contains(dockerfile.Formats, f) {
			c.Format = f
		}
	}
	c.Ignored = list("HADOLINT_IGNORE")
	c.Override = dockerfile.ConfigOverride{
		Error:   list("HADOLINT_OVERRIDE_ERROR"),
		Warning: list("HADOLINT_OVERRIDE_WARNING"),
		Info:    list("HADOLINT_OVERRIDE_INFO"),
		Style:   list("HADOLINT_OVERRIDE_STYLE"),
	}
	c.TrustedRegistries = list("HADOLINT_TRUSTED_REGISTRIES")
	schema, err := labelSchema(list("HADOLINT_REQUIRE_LABELS"))
	if err != nil {
		return c, fmt.Errorf("HADOLINT_REQUIRE_LABELS: %w", err)
	}
	c.LabelSchema = schema
	if v, ok := lookup("HADOLINT_FAILURE_THRESHOLD"); ok {
		sev, err := dockerfile.ParseSeverity(v)
		if err != nil {
			return c, fmt.Errorf("HADOLINT_FAILURE_THRESHOLD: %w", err)
		}
		c.FailureThreshold = &sev
	}
	return c, nil
}

// labelSchema reads LABEL:TYPE pairs; a missing type means text.
func labelSchema(pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	schema := map[string]string{}
	for _, p := range pairs {
		label, typ, _ := strings.Cut(p, ":")
		if typ == "" {
			typ = "text"
		}
		if label == "" || !slices.Contains(dockerfile.LabelTypes, typ) {
			return nil, fmt.Errorf("label %q: write LABEL:TYPE, TYPE one of %s", p, strings.Join(dockerfile.LabelTypes, ", "))
		}
		schema[label] = typ
	}
	return schema, nil
}

// parseInterspersed parses flags wherever they stand, so both
// `kaj lint --format json Dockerfile` and `kaj lint Dockerfile --format json`
// work; everything after "--" is a file.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return files, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(files, rest...), nil
		}
		files, args = append(files, rest[0]), rest[1:]
	}
}

// readAll reads r until EOF or until ctx ends: a terminal on standard input
// must not keep kaj from stopping on Ctrl-C.
func readAll(ctx context.Context, r io.Reader) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(r)
		done <- result{b, err}
	}()
	select {
	case res := <-done:
		return res.b, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// codeList collects rule codes, from repeated flags and comma lists.
type codeList []string

func (c *codeList) String() string { return strings.Join(*c, ",") }

func (c *codeList) Set(v string) error {
	for _, code := range strings.Split(v, ",") {
		code = strings.ToUpper(strings.TrimSpace(code))
		if code == "" {
			continue
		}
		if (dockerfile.Options{Ignore: []string{code}}).Validate() != nil {
			return fmt.Errorf("%q is not a rule code; codes look like DL3059", code)
		}
		*c = append(*c, code)
	}
	return nil
}

// stringList collects repeated or comma-separated values.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			*s = append(*s, x)
		}
	}
	return nil
}
