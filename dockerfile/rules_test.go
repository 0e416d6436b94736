package dockerfile

import (
	"slices"
	"testing"
)

// ruleCase is one Dockerfile and the lines where the rule under test must
// fire; no lines means it must not fire at all.
type ruleCase struct {
	name  string
	src   string
	lines []int
}

func fires(lines ...int) []int { return lines }

var ruleCases = map[string][]ruleCase{
	"DL3000": {
		{"relative", "FROM a:1\nWORKDIR app", fires(2)},
		{"quoted relative", "FROM a:1\nWORKDIR \"app/x\"", fires(2)},
		{"absolute", "FROM a:1\nWORKDIR /app", nil},
		{"quoted absolute", "FROM a:1\nWORKDIR \"/app\"", nil},
		{"variable", "FROM a:1\nWORKDIR $HOME/app", nil},
		{"windows drive", "FROM a:1\nWORKDIR C:/app", nil},
	},
	"DL3002": {
		{"root", "FROM a:1\nUSER root", fires(2)},
		{"uid and gid", "FROM a:1\nUSER 0:0", fires(2)},
		{"root then back", "FROM a:1\nUSER root\nRUN x\nUSER app", nil},
		{"last of two stages", "FROM a:1 AS b\nUSER app\nFROM b\nUSER root:root", fires(4)},
		{"name starting with root", "FROM a:1\nUSER rooty", nil},
	},
	"DL3003": {
		{"in && chain", "FROM a:1\nRUN cd /tmp && make", fires(2)},
		{"after ||", "FROM a:1\nRUN make || cd /x", fires(2)},
		{"in subshell", "FROM a:1\nRUN (cd /src; make)", fires(2)},
		{"exec form through sh -c", `FROM a:1` + "\n" + `RUN ["sh", "-c", "cd /x && make"]`, fires(2)},
		{"continuation", "FROM a:1\nRUN set -e; \\\n    cd /tmp; \\\n    make", fires(2)},
		{"word, not command", "FROM a:1\nRUN echo cd", nil},
		{"make -C", "FROM a:1\nRUN make -C /tmp", nil},
	},
	"DL3004": {
		{"sudo", "FROM a:1\nRUN sudo apt-get update", fires(2)},
		{"sudo with options in a chain", "FROM a:1\nRUN id && sudo -u app -E make", fires(2)},
		{"heredoc body", "FROM a:1\nRUN <<EOF\nset -e\nsudo make install\nEOF", fires(2)},
		{"package named sudo", "FROM a:1\nRUN apt-get install -y --no-install-recommends sudo=1.9", nil},
		{"argument", "FROM a:1\nRUN echo sudo", nil},
	},
	"DL3006": {
		{"untagged", "FROM ubuntu", fires(1)},
		{"platform and alias", "FROM --platform=linux/amd64 ubuntu AS build", fires(1)},
		{"registry port is not a tag", "FROM registry.local:5000/team/app", fires(1)},
		{"ARG default without tag", "ARG BASE=debian\nFROM $BASE", fires(2)},
		{"ARG built from ARGs", "ARG REG=docker.io\nARG IMG=${REG}/library/debian\nFROM ${IMG}", fires(3)},
		{"tagged", "FROM ubuntu:22.04", nil},
		{"digest", "FROM ubuntu@sha256:0000000000000000000000000000000000000000000000000000000000000000", nil},
		{"registry port and tag", "FROM registry.local:5000/team/app:1.2", nil},
		{"scratch", "FROM scratch", nil},
		{"earlier stage", "FROM golang:1.22 AS build\nFROM build", nil},
		{"earlier stage, other case", "FROM golang:1.22 AS Build\nFROM build", nil},
		{"ARG default with tag", "ARG BASE=debian:12\nFROM ${BASE}", nil},
		{"ARG without default", "ARG BASE\nFROM $BASE", nil},
		{"ARG naming a stage", "FROM golang:1.22 AS build\nARG B=build\nFROM alpine:3", nil},
		{"platform variable", "FROM --platform=$BUILDPLATFORM golang:1.22 AS build", nil},
	},
	"DL3007": {
		{"latest", "FROM ubuntu:latest", fires(1)},
		{"latest with platform and alias", "FROM --platform=$BUILDPLATFORM golang:latest AS b", fires(1)},
		{"latest from ARG", "ARG TAG=latest\nFROM ubuntu:$TAG", fires(2)},
		{"pinned", "FROM ubuntu:22.04", nil},
		{"image named latest", "FROM latest:1", nil},
		{"tag ARG without default", "ARG TAG\nFROM ubuntu:$TAG", nil},
	},
	"DL3008": {
		{"unpinned after &&", "FROM a:1\nRUN apt-get update && apt-get install -y curl", fires(2)},
		{"one of two unpinned", "FROM a:1\nRUN apt-get install -y curl=7.81.0 wget", fires(2)},
		{"after ;", "FROM a:1\nRUN set -e; apt-get -y install --no-install-recommends curl", fires(2)},
		{"heredoc", "FROM a:1\nRUN <<EOF\napt-get update\napt-get install -y curl\nEOF", fires(2)},
		{"through sudo", "FROM a:1\nRUN sudo apt-get install -y curl", fires(2)},
		{"through env", "FROM a:1\nRUN env DEBIAN_FRONTEND=noninteractive apt-get install -y curl", fires(2)},
		{"exec form", `FROM a:1` + "\n" + `RUN ["apt-get", "install", "-y", "curl"]`, fires(2)},
		{"continuation with comment", "FROM a:1\nRUN apt-get update \\\n# pinned below\n && apt-get install -y \\\n      curl", fires(2)},
		{"pinned", "FROM a:1\nRUN apt-get install -y curl=7.81.0-1ubuntu1", nil},
		{"pinned by variable", "FROM a:1\nRUN apt-get install -y \"curl=${CURL_VERSION}\"", nil},
		{"local deb", "FROM a:1\nRUN apt-get install -y ./pkg.deb", nil},
		{"target release value is no package", "FROM a:1\nRUN apt-get install -y -t bookworm-backports curl=1.0", nil},
		{"option value is no package", "FROM a:1\nRUN apt-get -o Dpkg::Options::=--force-confnew install -y curl=1.0", nil},
		{"quoted in echo", "FROM a:1\nRUN echo 'apt-get install curl'", nil},
		{"update only", "FROM a:1\nRUN apt-get update", nil},
	},
	"DL3009": {
		{"lists kept", "FROM debian:12\nRUN apt-get update && apt-get install -y curl=1", fires(2)},
		{"in a stage used as base", "FROM debian:12 AS base\nRUN apt-get update\nFROM base\nRUN true", fires(2)},
		{"removed", "FROM debian:12\nRUN apt-get update && apt-get install -y curl=1 && rm -rf /var/lib/apt/lists/*", nil},
		{"removed in a heredoc", "FROM debian:12\nRUN <<EOF\napt-get update\napt-get install -y curl=1\nrm -rf /var/lib/apt/lists/*\nEOF", nil},
		{"build stage only copied from", "FROM debian:12 AS build\nRUN apt-get update\nFROM alpine:3\nCOPY --from=build /x /x", nil},
		{"cache mount", "FROM debian:12\nRUN --mount=type=cache,target=/var/lib/apt/lists apt-get update", nil},
		{"cache mounts of apt dirs", "FROM debian:12\nRUN --mount=type=cache,target=/var/lib/apt --mount=type=cache,target=/var/cache/apt apt-get update", nil},
		{"no update", "FROM debian:12\nRUN apt-get install -y curl=1", nil},
	},
	"DL3013": {
		{"unpinned", "FROM a:1\nRUN pip install flask", fires(2)},
		{"pip3 with flags", "FROM a:1\nRUN pip3 install --upgrade flask", fires(2)},
		{"python -m pip", "FROM a:1\nRUN python3 -m pip install flask==2.0 requests", fires(2)},
		{"index url value is no package", "FROM a:1\nRUN pip install -i https://pypi.example/simple flask", fires(2)},
		{"pinned", "FROM a:1\nRUN pip install flask==2.0", nil},
		{"range", "FROM a:1\nRUN pip install 'flask>=2,<3'", nil},
		{"requirements", "FROM a:1\nRUN pip install -r requirements.txt", nil},
		{"requirements long", "FROM a:1\nRUN pip install --requirement requirements.txt", nil},
		{"constraints", "FROM a:1\nRUN pip install -c constraints.txt flask", nil},
		{"local project", "FROM a:1\nRUN pip install .", nil},
		{"wheel", "FROM a:1\nRUN pip install dist/app-1.0-py3-none-any.whl", nil},
		{"program path, as hadolint reads it", "FROM a:1\nRUN .venv/bin/pip3 install flask", nil},
	},
	"DL3015": {
		{"missing", "FROM a:1\nRUN apt-get install -y curl=1", fires(2)},
		{"missing in second install", "FROM a:1\nRUN apt-get install -y --no-install-recommends a=1 && apt-get install -y b=1", fires(2)},
		{"given", "FROM a:1\nRUN apt-get install -y --no-install-recommends curl=1", nil},
		{"given as option", "FROM a:1\nRUN apt-get install -y -o APT::Install-Recommends=false curl=1", nil},
	},
	"DL3016": {
		{"unpinned", "FROM a:1\nRUN npm install express", fires(2)},
		{"unpinned scoped", "FROM a:1\nRUN npm install -g @angular/cli", fires(2)},
		{"pinned", "FROM a:1\nRUN npm install express@4.18.2", nil},
		{"pinned scoped", "FROM a:1\nRUN npm install @angular/cli@17", nil},
		{"package.json", "FROM a:1\nRUN npm install", nil},
		{"ci", "FROM a:1\nRUN npm ci", nil},
		{"folder", "FROM a:1\nRUN npm install ./lib", nil},
		{"git commit", "FROM a:1\nRUN npm install git+https://example.com/x/y.git#v1.0.0", nil},
		{"tarball", "FROM a:1\nRUN npm install ./pkg.tgz", nil},
	},
	"DL3018": {
		{"unpinned", "FROM alpine:3\nRUN apk add curl", fires(2)},
		{"one unpinned", "FROM alpine:3\nRUN apk --no-cache add curl=8.5.0-r0 bash", fires(2)},
		{"pinned", "FROM alpine:3\nRUN apk add --no-cache curl=8.5.0-r0", nil},
		{"virtual name is no package", "FROM alpine:3\nRUN apk add --virtual .deps gcc=13.2.1-r0", nil},
		{"no apk add", "FROM alpine:3\nRUN apk update", nil},
	},
	"DL3019": {
		{"missing", "FROM alpine:3\nRUN apk add curl=1", fires(2)},
		{"update instead", "FROM alpine:3\nRUN apk add --update curl=1", fires(2)},
		{"given", "FROM alpine:3\nRUN apk add --no-cache curl=1", nil},
		{"cache mount", "FROM alpine:3\nRUN --mount=type=cache,target=/var/cache/apk/ apk add curl=1", nil},
	},
	"DL3020": {
		{"file", "FROM a:1\nADD app.py /app/", fires(2)},
		{"directory, JSON form", `FROM a:1` + "\n" + `ADD ["src", "/app/"]`, fires(2)},
		{"archive and file", "FROM a:1\nADD a.tar.gz b.txt /app/", fires(2)},
		{"url", "FROM a:1\nADD https://example.com/a.txt /app/", nil},
		{"archive", "FROM a:1\nADD rootfs.tar.xz /", nil},
		{"copy", "FROM a:1\nCOPY app.py /app/", nil},
	},
	"DL3021": {
		{"no slash", "FROM a:1\nCOPY a b /app", fires(2)},
		{"JSON form", `FROM a:1` + "\n" + `COPY ["a", "b", "/app"]`, fires(2)},
		{"with --from", "FROM a:1 AS x\nFROM a:1\nCOPY --from=x /a /b /app", fires(3)},
		{"slash", "FROM a:1\nCOPY a b /app/", nil},
		{"one source", "FROM a:1\nCOPY a /app", nil},
		{"variable destination", "FROM a:1\nCOPY a b $APP", nil},
	},
	"DL3022": {
		{"unknown stage", "FROM a:1\nCOPY --from=nope /a /b", fires(2)},
		{"stage defined later", "FROM a:1\nCOPY --from=later /a /b\nFROM a:1 AS later", fires(2)},
		{"earlier stage", "FROM a:1 AS build\nFROM a:1\nCOPY --from=build /a /b", nil},
		{"earlier stage, other case", "FROM a:1 AS Build\nFROM a:1\nCOPY --from=build /a /b", nil},
		{"index", "FROM a:1\nFROM a:1\nCOPY --from=0 /a /b", nil},
		{"image", "FROM a:1\nCOPY --from=nginx:1.25 /etc/nginx /etc/nginx", nil},
		{"variable", "FROM a:1\nCOPY --from=$STAGE /a /b", nil},
	},
	"DL3025": {
		{"CMD shell form", "FROM a:1\nCMD echo hi", fires(2)},
		{"ENTRYPOINT shell form", "FROM a:1\nENTRYPOINT ./boot.sh", fires(2)},
		{"invalid JSON is shell form", "FROM a:1\nCMD ['echo', 'hi']", fires(2)},
		{"CMD exec form", `FROM a:1` + "\n" + `CMD ["echo", "hi"]`, nil},
		{"ENTRYPOINT exec form", `FROM a:1` + "\n" + `ENTRYPOINT ["./boot.sh"]`, nil},
	},
	"DL3027": {
		{"apt", "FROM a:1\nRUN apt install -y curl", fires(2)},
		{"apt in chain", "FROM a:1\nRUN apt-get update && apt install -y curl", fires(2)},
		{"apt-get", "FROM a:1\nRUN apt-get install -y --no-install-recommends curl=1", nil},
		{"argument", "FROM a:1\nRUN echo apt", nil},
	},
	"DL3042": {
		{"no cache dir", "FROM a:1\nRUN pip install flask==2.0", fires(2)},
		{"requirements", "FROM a:1\nRUN python -m pip install -r requirements.txt", fires(2)},
		{"given", "FROM a:1\nRUN pip install --no-cache-dir flask==2.0", nil},
		{"cache mount", "FROM a:1\nRUN --mount=type=cache,target=/root/.cache/pip pip install flask==2.0", nil},
		{"pipenv", "FROM a:1\nRUN pipenv install", nil},
		{"PIP_NO_CACHE_DIR in a heredoc", "FROM a:1\nRUN <<EOF\nexport PIP_NO_CACHE_DIR=1\npip install flask==2.0\nEOF", nil},
		{"heredoc", "FROM a:1\nRUN <<EOF\npip install flask==2.0\nEOF", fires(2)},
		{"program path, as hadolint reads it", "FROM a:1\nRUN .venv/bin/pip3 install -r requirements.txt", nil},
	},
	"DL3045": {
		{"no WORKDIR", "FROM a:1\nCOPY app.py app.py", fires(2)},
		{"WORKDIR only in other stage", "FROM a:1 AS x\nWORKDIR /app\nFROM b:1\nCOPY a .", fires(4)},
		{"WORKDIR", "FROM a:1\nWORKDIR /app\nCOPY app.py .", nil},
		{"absolute", "FROM a:1\nCOPY app.py /app/", nil},
		{"inherited from base stage", "FROM a:1 AS base\nWORKDIR /app\nFROM base\nCOPY a .", nil},
		{"variable", "FROM a:1\nCOPY a $HOME/a", nil},
	},
	"DL3047": {
		{"plain", "FROM a:1\nRUN wget https://example.com/x", fires(2)},
		{"output document is no log option", "FROM a:1\nRUN wget -O x https://example.com/x", fires(2)},
		{"quiet", "FROM a:1\nRUN wget -q https://example.com/x", nil},
		{"no verbose", "FROM a:1\nRUN wget -nv https://example.com/x", nil},
		{"progress", "FROM a:1\nRUN wget --progress=dot:giga https://example.com/x", nil},
	},
	"DL3048": {
		{"upper case", "FROM a:1\nLABEL Maintainer=me", fires(2)},
		{"reserved namespace", "FROM a:1\nLABEL com.docker.thing=1", fires(2)},
		{"double dot", "FROM a:1\nLABEL a..b=1", fires(2)},
		{"quoted with space", "FROM a:1\nLABEL \"my label\"=x", fires(2)},
		{"second key", "FROM a:1\nLABEL a=1 B=2", fires(2)},
		{"reverse DNS", "FROM a:1\nLABEL org.opencontainers.image.title=\"kaj\" maintainer=me", nil},
		{"legacy form", "FROM a:1\nLABEL version 1.0", nil},
	},
	"DL3057": {
		{"missing", "FROM a:1\nCMD [\"x\"]", fires(1)},
		{"missing in one stage", "FROM a:1 AS build\nFROM b:1\nHEALTHCHECK CMD true", fires(1)},
		{"present", "FROM a:1\nHEALTHCHECK CMD curl -f http://localhost/ || exit 1", nil},
		{"inherited", "FROM a:1 AS base\nHEALTHCHECK NONE\nFROM base", nil},
	},
	"DL3059": {
		{"two", "FROM a:1\nRUN a\nRUN b", fires(3)},
		{"three", "FROM a:1\nRUN a\nRUN b\nRUN c", fires(3, 4)},
		{"comment between", "FROM a:1\nRUN a\n# why\n\nRUN b", fires(5)},
		{"continuation", "FROM a:1\nRUN a \\\n  b\nRUN c", fires(4)},
		{"two commands across a continuation", "FROM a:1\nRUN a \\\n  && b\nRUN c", nil},
		{"heredoc", "FROM a:1\nRUN <<EOF\na\nEOF\nRUN b", fires(5)},
		{"chains of three", "FROM a:1\nRUN a && b && c\nRUN d", nil},
		{"other instruction between", "FROM a:1\nRUN a\nWORKDIR /x\nRUN b", nil},
		{"same flags in another order", "FROM a:1\nRUN --network=none --mount=type=cache,target=/c a\nRUN --mount=type=cache,target=/c --network=none b", fires(3)},
		{"different mounts", "FROM a:1\nRUN --mount=type=cache,target=/root/.cache a\nRUN b", nil},
		{"new stage", "FROM a:1\nRUN a\nFROM b:1\nRUN b", nil},
	},
	"DL3035": {
		{"dist-upgrade", "FROM a:1\nRUN zypper dist-upgrade", fires(2)},
		{"dup through sudo", "FROM a:1\nRUN sudo zypper -n dup", fires(2)},
		{"install", "FROM a:1\nRUN zypper install -y curl=8", nil},
	},
	"DL4000": {
		{"maintainer", "FROM a:1\nMAINTAINER me <me@example.com>", fires(2)},
		{"label", "FROM a:1\nLABEL maintainer=me", nil},
	},
	"DL4001": {
		{"two RUNs", "FROM a:1\nRUN curl -fsS https://x\nRUN wget -q https://y", fires(3)},
		{"same RUN", "FROM a:1\nRUN curl -fsS https://x && wget -q https://y", fires(2)},
		{"curl only", "FROM a:1\nRUN curl -fsS https://x\nRUN curl -fsS https://y", nil},
		{"different stages", "FROM a:1\nRUN curl -fsS https://x\nFROM b:1\nRUN wget -q https://y", nil},
		{"installing both", "FROM a:1\nRUN apt-get install -y curl=1 wget=1", nil},
	},
	"DL4003": {
		{"two", "FROM a:1\nCMD [\"a\"]\nCMD [\"b\"]", fires(3)},
		{"one per stage", "FROM a:1\nCMD [\"a\"]\nFROM b:1\nCMD [\"b\"]", nil},
	},
	"DL4004": {
		{"two", "FROM a:1\nENTRYPOINT [\"a\"]\nENTRYPOINT [\"b\"]", fires(3)},
		{"one per stage", "FROM a:1\nENTRYPOINT [\"a\"]\nFROM b:1\nENTRYPOINT [\"b\"]", nil},
	},
	"DL4006": {
		{"pipe", "FROM a:1\nRUN curl -fsS https://x | sh", fires(2)},
		{"pipe in exec form", `FROM a:1` + "\n" + `RUN ["sh", "-c", "a | b"]`, fires(2)},
		{"pipe in heredoc", "FROM a:1\nRUN <<EOF\ncurl -fsS https://x | tar x\nEOF", fires(2)},
		{"pipe before set", "FROM a:1\nRUN a | b; set -o pipefail", fires(2)},
		{"SHELL of earlier stage", "FROM a:1\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nFROM b:1\nRUN a | b", fires(4)},
		{"SHELL", "FROM a:1\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nRUN a | b", nil},
		{"SHELL combined flags", "FROM a:1\nSHELL [\"/bin/ash\", \"-euo\", \"pipefail\", \"-c\"]\nRUN a | b", nil},
		{"set in RUN", "FROM a:1\nRUN set -o pipefail && curl -fsS https://x | sh", nil},
		{"set -euo in RUN", "FROM a:1\nRUN set -euo pipefail; a | b", nil},
		{"exec form with combined flags", `FROM a:1` + "\n" + `RUN ["/bin/bash", "-euo", "pipefail", "-c", "a | b"]`, nil},
		{"exec form with pipefail", `FROM a:1` + "\n" + `RUN ["bash", "-o", "pipefail", "-c", "a | b"]`, nil},
		{"PowerShell", "FROM a:1\nSHELL [\"pwsh\", \"-Command\"]\nRUN Get-Item x | Remove-Item", nil},
		{"or, not pipe", "FROM a:1\nRUN a || b", nil},
		{"quoted", "FROM a:1\nRUN echo 'a | b'", nil},
	},
	// kaj's own cases for the rules added with hadolint's full set: where
	// kaj's parsing sees more than hadolint's (wrappers, heredocs, exec
	// form, BuildKit's ONBUILD), and lines.
	"DL3001": {
		{"through sudo", "FROM a:1\nRUN sudo service nginx start", fires(2)},
		{"heredoc", "FROM a:1\nRUN <<EOF\nset -e\nps aux\nEOF", fires(2)},
		{"word, not command", "FROM a:1\nRUN apt-get install -y --no-install-recommends procps=2 && echo top", nil},
	},
	"DL3014": {
		{"through sudo", "FROM a:1\nRUN sudo apt-get install --no-install-recommends curl=1", fires(2)},
		{"heredoc", "FROM a:1\nRUN <<EOF\napt-get install --no-install-recommends curl=1\nEOF", fires(2)},
		{"-qq", "FROM a:1\nRUN apt-get -qq install --no-install-recommends curl=1", nil},
	},
	"DL3030": {
		{"exec form", "FROM a:1\nRUN [\"yum\", \"install\", \"httpd-2.4\"]", fires(2)},
		{"assumeyes", "FROM a:1\nRUN yum install --assumeyes httpd-2.4 && yum clean all", nil},
	},
	"DL3033": {
		{"through sudo", "FROM a:1\nRUN sudo yum install -y httpd && yum clean all", fires(2)},
		{"version from ENV of the base stage", "FROM a:1 AS base\nENV V=2.4\nFROM base\nRUN yum install -y httpd-${V} && yum clean all", nil},
	},
	"DL3043": {
		{"ONBUILD FROM is a finding, not a parse error", "FROM a:1\nONBUILD FROM b:1", fires(2)},
		{"ONBUILD RUN", "FROM a:1\nONBUILD RUN make", nil},
	},
	"DL3061": {
		{"LABEL first", "LABEL a=b\nFROM a:1", fires(1)},
		{"directive and ARG first", "# syntax=docker/dockerfile:1\nARG V=1\nFROM a:$V", nil},
	},
	"DL3062": {
		{"heredoc", "FROM golang:1\nRUN <<EOF\ngo install example.com/tool\nEOF", fires(2)},
		{"pinned in exec form", "FROM golang:1\nRUN [\"go\", \"install\", \"example.com/tool@v1.2.3\"]", nil},
	},
	"DL3060": {
		{"no cache clean", "FROM node:20\nRUN yarn install", fires(2)},
		{"BuildKit cache mount", "FROM node:20\nRUN --mount=type=cache,target=/usr/local/share/.cache/yarn yarn install", nil},
	},
	"DL4005": {
		{"through sudo", "FROM a:1\nRUN sudo ln -sf /bin/bash /bin/sh", fires(2)},
		{"other link", "FROM a:1\nRUN ln -s /usr/bin/python3 /usr/bin/python", nil},
	},
	// ShellCheck's checks, from the examples on its wiki
	// (https://www.shellcheck.net/wiki/SCxxxx) and what RUN lines hold.
	"SC1091": {
		{"dot", "FROM a:1\nRUN . /etc/os-release && echo \"$ID\"", fires(2)},
		{"source", "FROM a:1\nRUN source /venv/bin/activate && pip list", fires(2)},
		{"no sourcing", "FROM a:1\nRUN cat /etc/os-release", nil},
	},
	"SC2006": {
		{"backticks", "FROM a:1\nRUN echo \"`uname -m`\"", fires(2)},
		{"dollar parens", "FROM a:1\nRUN echo \"$(uname -m)\"", nil},
		{"quoted backtick", "FROM a:1\nRUN echo '`x`'", nil},
	},
	"SC2016": {
		{"variable in single quotes", "FROM a:1\nRUN echo 'home is $HOME'", fires(2)},
		{"substitution in single quotes", "FROM a:1\nRUN echo 'now $(date)'", fires(2)},
		{"awk program", "FROM a:1\nRUN awk '{print $1}' /etc/passwd", nil},
		{"sh -c script", "FROM a:1\nRUN sh -c 'echo $HOME'", nil},
		{"double quotes", "FROM a:1\nRUN echo \"home is $HOME\"", nil},
		{"dollar-single quotes", "FROM a:1\nRUN echo $'a\\tb'", nil},
	},
	"SC2028": {
		{"escape in echo", "FROM a:1\nRUN echo \"a\\nb\" > f", fires(2)},
		{"echo -e", "FROM a:1\nRUN echo -e \"a\\nb\" > f", nil},
		{"printf", "FROM a:1\nRUN printf 'a\\nb\\n' > f", nil},
	},
	"SC2035": {
		{"bare glob", "FROM a:1\nRUN rm *.log", fires(2)},
		{"dot slash", "FROM a:1\nRUN rm ./*.log", nil},
		{"after --", "FROM a:1\nRUN rm -- *.log", nil},
		{"quoted", "FROM a:1\nRUN find . -name '*.log'", nil},
	},
	"SC2046": {
		{"unquoted substitution", "FROM a:1\nRUN apt-get install -y linux-headers-$(uname -r)", fires(2)},
		{"backticks", "FROM a:1\nRUN kill `cat pid`", fires(2)},
		{"quoted", "FROM a:1\nRUN echo \"$(date)\"", nil},
		{"assignment", "FROM a:1\nRUN V=$(cat VERSION) make", nil},
	},
	"SC2086": {
		{"unquoted variable", "FROM a:1\nRUN apt-get install -y \"curl=1\" $EXTRA", fires(2)},
		{"braces", "FROM a:1\nRUN tar xf ${ARCHIVE}", fires(2)},
		{"heredoc body", "FROM a:1\nRUN <<EOF\nset -e\ncp $SRC /dst\nEOF", fires(2)},
		{"quoted", "FROM a:1\nRUN cp \"$SRC\" /dst", nil},
		{"special parameters", "FROM a:1\nRUN echo $? $# ${#X}", nil},
		{"set to a plain word", "FROM a:1\nRUN V=1.2; echo $V", nil},
		{"proxy variables hadolint exports", "FROM a:1\nRUN curl -x $http_proxy https://x", nil},
		{"disabled in the script", "FROM a:1\nRUN <<EOF\n# shellcheck disable=SC2086\ncp $SRC /dst\nEOF", nil},
	},
	"SC2155": {
		{"export", "FROM a:1\nRUN export ARCH=$(uname -m) && make", fires(2)},
		{"local in quotes", "FROM a:1\nRUN f() { local v=\"$(date)\"; }; f", fires(2)},
		{"separate", "FROM a:1\nRUN ARCH=$(uname -m) && export ARCH", nil},
	},
	"SC2164": {
		{"cd then ;", "FROM a:1\nRUN cd /src; make", fires(2)},
		{"cd last", "FROM a:1\nRUN make && cd /src", fires(2)},
		{"in subshell", "FROM a:1\nRUN (cd /src; make)", fires(2)},
		{"cd &&", "FROM a:1\nRUN cd /src && make", nil},
		{"cd && in a chain", "FROM a:1\nRUN git clone x && cd x && make", nil},
		{"cd || exit", "FROM a:1\nRUN cd /src || exit 1; make", nil},
		{"set -e", "FROM a:1\nRUN set -eux; cd /src; make", nil},
	},
	"SC2181": {
		{"[ $? ]", "FROM a:1\nRUN make; if [ $? -ne 0 ]; then exit 1; fi", fires(2)},
		{"[[ $? ]]", "FROM a:1\nRUN make; [[ \"$?\" == 0 ]] || exit 1", fires(2)},
		{"direct", "FROM a:1\nRUN if ! make; then exit 1; fi", nil},
		{"echo $?", "FROM a:1\nRUN make; echo $?", nil},
	},
	"SC2196": {
		{"egrep", "FROM a:1\nRUN egrep -v '^#' f > g", fires(2)},
		{"grep -E", "FROM a:1\nRUN grep -Ev '^#' f > g", nil},
	},
	"SC2197": {
		{"fgrep", "FROM a:1\nRUN fgrep x f > g", fires(2)},
		{"grep -F", "FROM a:1\nRUN grep -F x f > g", nil},
	},
}

// TestRules runs kaj's own cases: where kaj's parsing differs from
// hadolint's, and the lines findings land on. Together with hadolint's spec
// cases (TestHadolintSpecs) every rule must have cases that fire and cases
// that do not.
func TestRules(t *testing.T) {
	catches, cleans := map[string]bool{}, map[string]bool{}
	for _, c := range loadSpecCases(t) {
		if c.Expect == "catch" {
			catches[c.Rule] = true
		} else {
			cleans[c.Rule] = true
		}
	}
	for _, r := range Rules() {
		cases := ruleCases[r.Code]
		if !catches[r.Code] && !slices.ContainsFunc(cases, func(c ruleCase) bool { return len(c.lines) > 0 }) ||
			!cleans[r.Code] && !slices.ContainsFunc(cases, func(c ruleCase) bool { return len(c.lines) == 0 }) {
			t.Errorf("%s needs cases that fire and cases that do not", r.Code)
		}
		for _, c := range cases {
			t.Run(r.Code+"/"+c.name, func(t *testing.T) {
				// Switch every rule on, DL3057 included.
				got, err := Lint([]byte(c.src), Options{Override: map[string]Severity{r.Code: SeverityWarning}})
				if err != nil {
					t.Fatalf("Lint: %v", err)
				}
				var lines []int
				for _, f := range got {
					if f.Code == r.Code {
						lines = append(lines, f.Line)
					}
				}
				if !slices.Equal(lines, c.lines) {
					t.Errorf("%s fired on lines %v, want %v\n%s", r.Code, lines, c.lines, c.src)
				}
			})
		}
	}
	for code := range ruleCases {
		if !knownCode(code) {
			t.Errorf("cases for unknown rule %s", code)
		}
	}
}
