// Package store keeps kaj's state in one embedded bbolt file: apps,
// releases, registry credentials, users, sessions, API tokens and the
// event trail.
//
// # Basics
//
// Open a file with [Open]; one process at a time may hold it. Read with
// [Store.View] and write with [Store.Update]: each runs a closure in one
// transaction, so multi-step writes (a release and its event, an app and
// its first release) either all land or none do. The Store methods of the
// same names as [Tx] methods are one-call shortcuts.
//
// # Concurrency
//
// A Store is safe for concurrent use. bbolt allows one writer at a time;
// updates of records carry a Version, and writing a record whose Version
// is not the stored one fails with [ErrConflict] (optimistic concurrency):
// of two clients that read version 3 and both write, one wins and the
// other must re-read.
//
// # Secrets
//
// Secret env values, database passwords and registry passwords are sealed
// with AES-256-GCM before they reach the file, bound to the record they
// belong to. Reads return them empty; only the explicit Reveal methods
// return plain text. Writing a secret with an empty value keeps the one
// stored (secrets are write-only).
//
// # Caveats
//
// Records are JSON inside bbolt. The file's schema version is checked on
// Open and older files are migrated forward in one transaction; a file
// written by a newer kaj is refused rather than guessed at.
package store
