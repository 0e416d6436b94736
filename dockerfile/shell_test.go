package dockerfile

import (
	"slices"
	"strings"
	"testing"
)

func TestScript_commands(t *testing.T) {
	tests := []struct {
		name   string
		src    string // a whole Dockerfile; its last instruction is the RUN
		cmds   []string
		unsafe bool
	}{
		{"chain", "RUN a && b || c; d", []string{"a", "b", "c", "d"}, false},
		{"pipe", "RUN curl -s x | tar x", []string{"curl -s x", "tar x"}, true},
		{"assignment prefix", "RUN DEBIAN_FRONTEND=noninteractive apt-get install -y x", []string{"apt-get install -y x"}, false},
		{"assignment only", "RUN X=1", nil, false},
		{"quotes removed", `RUN "apt-get" install 'a b' "c=$V"`, []string{"apt-get install a b c=$V"}, false},
		{"substitution", "RUN echo $(uname -m)", []string{"echo $(uname -m)", "uname -m"}, false},
		{"non-literal program", "RUN $CC -o x x.c", nil, false},
		{"wrappers", "RUN command apt-get install x; exec gosu app run; sudo -u app -H make", []string{"apt-get install x", "gosu app run", "make"}, false},
		{"command -v is a lookup", "RUN command -v curl", []string{"command -v curl"}, false},
		{"control flow", "RUN if [ -f x ]; then make; fi; for i in 1 2; do echo $i; done", []string{"[ -f x ]", "make", "echo $i"}, false},
		{"exec form", `RUN ["/usr/bin/make", "-j", "4"]`, []string{"/usr/bin/make -j 4"}, false},
		{"exec form shell", `RUN ["/bin/sh", "-ec", "a && b"]`, []string{"a", "b"}, false},
		{"heredoc script", "RUN <<EOF\na\nb | c\nEOF", []string{"a", "b", "c"}, true},
		{"heredoc chomped", "RUN <<-EOF\n\ta\n\tb\n\tEOF", []string{"a", "b"}, false},
		{"heredoc other interpreter", "RUN <<EOF\n#!/usr/bin/env python3\nprint('a | b')\nEOF", []string{"python3"}, false},
		{"heredoc shell interpreter", "RUN <<EOF\n#!/bin/bash\nset -o pipefail\na | b\nEOF", []string{"set -o pipefail", "a", "b"}, false},
		{"heredoc to a program", "RUN python3 <<EOF\nimport os | x\nEOF", []string{"python3"}, false},
		{"heredoc to a shell", "RUN bash <<EOF\nmake | tee log\nEOF", []string{"bash", "make", "tee log"}, true},
		{"two heredocs", "RUN cat <<A >a && sh <<B\nfile a\nA\nrm -rf x\nB", []string{"cat", "sh", "rm -rf x"}, false},
		{"syntax error", "RUN if then fi (", nil, false},
		{"PowerShell", "SHELL [\"powershell\", \"-Command\"]\nRUN Get-Item x | Remove-Item", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parse([]byte("FROM a:1\n" + tt.src))
			if err != nil {
				t.Fatal(err)
			}
			s := f.insts[len(f.insts)-1].run
			var got []string
			for _, c := range s.cmds {
				got = append(got, strings.Join(append([]string{c.name}, c.args...), " "))
			}
			if !slices.Equal(got, tt.cmds) {
				t.Errorf("commands %q, want %q", got, tt.cmds)
			}
			if s.unsafePipe != tt.unsafe {
				t.Errorf("unsafePipe = %v, want %v", s.unsafePipe, tt.unsafe)
			}
		})
	}
}

func TestCmd_flags(t *testing.T) {
	c := newCmd([]string{"apt-get", "-qy", "--no-install-recommends", "-t", "stable", "install", "a=1", "--", "-b"})
	for _, f := range []string{"q", "y", "no-install-recommends", "t"} {
		if !c.hasFlag(f) {
			t.Errorf("hasFlag(%q) = false", f)
		}
	}
	if c.hasFlag("install") || c.hasFlag("b") {
		t.Error("operands counted as flags")
	}
	if got := c.operands("t"); !slices.Equal(got, []string{"install", "a=1", "-b"}) {
		t.Errorf("operands = %q", got)
	}
}
