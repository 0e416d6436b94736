// Package dockerfile lints Dockerfiles with hadolint's rules, so a user
// needs no extra tool and keeps hadolint's codes, severities and ignore lists.
//
// # Parsing
//
// Files are read with BuildKit's own parser, the one `docker build` uses:
// line continuations, parser directives (# escape=`), heredocs, JSON and
// shell forms and builder flags such as --platform, --from and --mount mean
// what they mean to Docker. What BuildKit would reject (unknown
// instructions, missing arguments, bad stage names) is a *ParseError with
// its line, not a finding.
//
// The shell code of a RUN is parsed with mvdan.cc/sh, so rules see the
// commands of && || ; chains, pipelines, subshells, command substitutions
// and shells fed a heredoc, not a regular expression's guess. RUN <<EOF
// bodies are read as BuildKit runs them: as the script, or, with a #! line
// naming another interpreter, as that program. Wrappers are looked
// through: `sudo apt-get install curl` is an apt-get install (DL3008,
// DL3015) run with sudo (DL3004), where hadolint sees only the sudo.
//
// # Rules
//
// Every rule hadolint has (DL1001, DL3000-DL3067, DL4000-DL4006) keeps
// hadolint's code, default severity and message; Rules lists them with a
// documentation link and a one-line fix. What counts as a hit is what
// hadolint's rule specifications settle: testdata/hadolint-spec-cases.json
// holds those cases and TestHadolintSpecs runs them all. hadolint's quirks
// are kept where users rely on its answers (a pip install counts only when
// the program name starts with "pip", as written; a single `rm -rf` counts
// as cleaning the apt lists). Where kaj can know more it uses it: a FROM
// image held in an ARG is expanded from the ARG's default before DL3006 and
// DL3007 judge it, `set -o pipefail` in a RUN satisfies DL4006 for the pipes
// after it, and sudo and env are looked through.
//
// Rules about what a RUN runs also check ONBUILD triggers, as hadolint's
// do; a trigger that cannot be parsed is left for the build that uses the
// image. DL1001, DL3057 and SC1091 are off unless Options.Override switches
// them on; DL3026 needs Options.TrustedRegistries and DL3049-DL3058 a
// label schema.
//
// The ShellCheck checks most met in RUN lines (SC2086, SC2046, SC2164 and
// others; see Rules) run on the same shell AST. They are kaj's own reading
// of ShellCheck's documentation, not ShellCheck, and find less than it.
//
// # Pragmas and options
//
// A comment `# hadolint ignore=DL3008,SC2086` silences those rules for the
// next instruction, when only comment lines stand between the two, as does
// ShellCheck's `# shellcheck disable=SC2086`; `# hadolint global
// ignore=DL3059` silences them for the whole file and `# hadolint stage
// ignore=DL3059` up to the next FROM. A `# shellcheck disable=` comment in
// a RUN's script silences the code for that RUN. Options adds an ignore
// list, a severity threshold, per-rule severity overrides, trusted
// registries, a label schema and a switch for the pragmas; Config reads
// hadolint's .hadolint.yaml into Options.
//
// # Output
//
// Write renders the results of linting one or more files in any of
// hadolint's formats (Formats): tty, json, checkstyle, codeclimate,
// gitlab_codeclimate, gnu, codacy and sarif (SARIF 2.1.0).
package dockerfile
