package store

import (
	"errors"
	"fmt"
)

// Errors returned by the store. Match them with errors.Is.
var (
	// ErrNotFound means the record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the record already exists, or was changed since it
	// was read (its Version no longer matches).
	ErrConflict = errors.New("conflict")
	// ErrInUse means another kaj process holds the data file.
	ErrInUse = errors.New("data file is in use by another kaj process")
	// ErrSchemaTooNew means the file was written by a newer kaj.
	ErrSchemaTooNew = errors.New("data file was written by a newer kaj")
	// ErrSealed means a secret could not be opened: the key is not the one
	// it was sealed with, or the file was tampered with.
	ErrSealed = errors.New("secret cannot be decrypted with this key")
)

// ValidationError says which field of a record is invalid and why.
// It matches ErrInvalid with errors.Is.
type ValidationError struct {
	Field string
	Msg   string
}

// ErrInvalid is matched by every *ValidationError.
var ErrInvalid = errors.New("invalid")

func (e *ValidationError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Msg) }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Msg: fmt.Sprintf(format, args...)}
}
