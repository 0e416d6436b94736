package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kajhq/kaj/dockerfile"
)

const lintUsage = `Usage: kaj lint [--format tty|json|sarif] [--ignore CODE]... [--threshold LEVEL] FILE|-

Checks a Dockerfile with hadolint's rules; - reads it from standard input.
Comments like "# hadolint ignore=DL3059" in the file are honoured.

Exit status: 0 when no finding reaches the threshold, 1 when one does,
2 when the file cannot be read or does not parse, or the command line is wrong.

Flags:
`

// lintCommand runs `kaj lint`.
func lintCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kaj lint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "tty", "output `format`: tty, json (hadolint's) or sarif (SARIF 2.1.0)")
	threshold := fs.String("threshold", "info", "exit 1 when a finding is at or above this `level`: error, warning, info, style or none")
	var ignore codeList
	fs.Var(&ignore, "ignore", "rule `CODE` not to report, like DL3059; repeat the flag or separate codes with commas")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), lintUsage)
		fs.PrintDefaults()
	}

	files, err := parseInterspersed(fs, args)
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
	write, ok := lintWriters[*format]
	if !ok {
		return fail("unknown format %q: use tty, json or sarif", *format)
	}
	level, err := dockerfile.ParseSeverity(*threshold)
	if err != nil || level == dockerfile.SeverityIgnore {
		return fail("unknown threshold %q: use error, warning, info, style or none", *threshold)
	}
	if len(files) != 1 {
		return fail("give one Dockerfile to check, or - for standard input (got %d arguments)", len(files))
	}
	name := files[0]

	var src []byte
	if name == "-" {
		src, err = readAll(ctx, stdin)
	} else {
		src, err = os.ReadFile(name)
	}
	if err != nil {
		return fail("reading Dockerfile: %v", err)
	}

	findings, err := dockerfile.Lint(src, dockerfile.Options{Ignore: ignore})
	var perr *dockerfile.ParseError
	if errors.As(err, &perr) {
		fmt.Fprintf(stderr, "%s:%d: %v\n", name, perr.Line, perr.Err)
		return exitCode(2)
	}
	if err != nil {
		return fail("%v", err)
	}
	if err := write(stdout, name, findings); err != nil {
		return err
	}
	for _, f := range findings {
		if f.Severity >= level {
			return exitCode(1)
		}
	}
	return nil
}

var lintWriters = map[string]func(io.Writer, string, []dockerfile.Finding) error{
	"tty":   dockerfile.WriteTTY,
	"json":  dockerfile.WriteJSON,
	"sarif": dockerfile.WriteSARIF,
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

// codeList collects --ignore codes, from repeated flags and comma lists.
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
