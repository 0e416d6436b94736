// Command kaj is a self-hosted deployer for web apps on Docker hosts.
//
// Usage:
//
//	kaj [serve] [--config FILE] [--listen ADDR] [--data DIR]
//	kaj version
//	kaj lint [hadolint's flags] FILE|- ...
//	kaj healthcheck [--url URL]
//	kaj admin reset-password [--data DIR] USER
//	kaj login URL | apps | deploy APP [--context DIR] | logs [-f] APP |
//	    rollback APP [RELEASE] | env set|unset APP NAME[=VALUE] | push IMAGE TARGET
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var code exitCode
		if errors.As(err, &code) {
			os.Exit(int(code))
		}
		fmt.Fprintln(os.Stderr, "kaj:", err)
		os.Exit(1)
	}
}

// exitCode is returned by a command that has already reported its outcome
// and only needs the process to exit with this status (e.g. lint findings).
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serveCommand(ctx, args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "kaj", version())
		return nil
	case "lint":
		return lintCommand(ctx, args, stdin, stdout, stderr)
	case "healthcheck":
		return healthcheckCommand(ctx, args, stdout, stderr)
	case "admin":
		return adminCommand(ctx, args, stdout, stderr)
	case "login":
		return loginCommand(ctx, args, stdin, stdout, stderr)
	case "apps":
		return appsCommand(ctx, args, stdout, stderr)
	case "deploy":
		return deployCommand(ctx, args, stdout, stderr)
	case "logs":
		return logsCommand(ctx, args, stdout, stderr)
	case "rollback":
		return rollbackCommand(ctx, args, stdout, stderr)
	case "env":
		return envCommand(ctx, args, stdout, stderr)
	case "push":
		return pushCommand(ctx, args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q; run 'kaj help' for the list", cmd)
	}
}

const usage = `kaj deploys web apps and their databases on a Docker host.

Commands:
  serve        run the API and dashboard (the default)
  version      print the version
  lint         check a Dockerfile (hadolint-compatible rules)
  healthcheck  exit 0 when the kaj serving here is healthy
  admin        reset-password USER: a new password for a locked-out user
  help         this text

Client commands (against a kaj server; 'kaj login URL' first, or set
KAJ_URL and KAJ_TOKEN):
  login URL                     save kaj's address and an API token
  apps                          list the apps
  deploy APP [--context DIR]    build DIR (or the app's repository) and deploy
  deploy APP --image REF        deploy an image
  logs [-f] APP                 print or follow the app's log
  rollback APP [RELEASE]        deploy an earlier release again
  env set|unset APP NAME[=V]    change the app's environment
  push IMAGE TARGET             push an engine image to a registry
Each takes --json for scripts.

Run 'kaj serve --help' or 'kaj lint --help' for their flags.
`
