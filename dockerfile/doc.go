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
// Each rule keeps hadolint's code, default severity and message; Rules lists
// them. Where hadolint's behaviour is a matter of judgement, it is followed,
// including its quirks (a pip install counts only when the program name
// starts with "pip", as written). Where kaj can know more it uses it: a FROM
// image held in an ARG is expanded from the ARG's default before DL3006 and
// DL3007 judge it, and `set -o pipefail` in a RUN satisfies DL4006 for the
// pipes after it.
//
// # Pragmas and options
//
// A comment `# hadolint ignore=DL3008,DL3059` silences those rules for the
// next instruction, when only comment lines stand between the two; a
// comment `# hadolint global ignore=DL3059` silences them for the whole
// file. Options adds an ignore list, a severity threshold and per-rule
// severity overrides.
//
// # Output
//
// WriteTTY, WriteJSON and WriteSARIF render findings for a terminal,
// for tools that read hadolint's JSON, and for code-scanning services
// (SARIF 2.1.0).
package dockerfile
