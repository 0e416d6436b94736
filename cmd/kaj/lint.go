package main

import (
	"context"
	"errors"
	"io"
)

func lintCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return errors.New("lint is not available in this build")
}
