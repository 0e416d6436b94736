// Package runtime runs kaj's apps and their databases on a Docker Engine:
// networks, containers, volumes, readiness and health waits, status, stats
// and logs. It knows nothing of HTTP, the store or deploys; it imports only
// the standard library and the Docker Engine's Go client.
//
// # Objects and names
//
// A Docker keeps to one kaj instance's share of the engine (see Scope,
// set once with SetScope). Every app gets a user-defined bridge network,
// kaj-<instance>-<app>. Its database, if it has one, is the container
// kaj-<instance>-<app>-db, which joins that network under an alias
// (dbserver unless told otherwise) and keeps its data in a named volume
// that outlives every container. App containers are named
// kaj-<instance>-<app>-r<release>-<6 hex digits>: the suffix lets a
// replacement run beside the container it replaces, even for the same
// release. Names gives them; apps made before instance IDs keep the names
// they had (Scope.Legacy).
//
// Everything kaj creates carries the labels kaj.managed=true,
// kaj.instance, kaj.app, kaj.role (app or db) and, on app containers,
// kaj.release, plus the scope's labels; calls that create objects also
// take extra labels. Operations on an existing object first check that it
// is this instance's: kaj never stops, removes, reuses or reports an
// object it did not label for this instance, treats one as not found, and
// refuses one that holds a name it would give as ErrConflict.
//
// # Listing
//
// ListAll reports this instance's containers from one engine call,
// without inspecting each: another kaj on the same engine is never
// listed. List reports this instance's containers of an app with full
// detail, one inspect per container.
//
// # Logs
//
// Logs delivers lines one by one; LogBatches hands over each read of the
// engine's stream (up to 256 KiB) as one batch, so a reader that fans
// lines out pays its costs once per read rather than once per line.
//
// # Errors
//
// Bad input is refused before the engine is called, with a
// *ValidationError that names the field and matches ErrInvalid. Errors
// from the engine are translated where they enter: errors.Is finds
// ErrNotFound, ErrConflict, ErrEngineUnreachable, ErrEngineTimeout,
// ErrImageMissing or ErrInvalid, and the message says what was being done. Waits that fail
// return a *WaitError carrying the container's exit code and last log
// lines.
//
// # Deadlines and the engine's state
//
// Every call through the client has a deadline (WithTimeout, 30s by
// default): an engine that takes a call and never answers fails it with
// a *TimeoutError matching ErrEngineTimeout, and the call's connection is
// closed so the engine never runs it later. A stop gets its grace period
// on top; streams are bounded until they start. State says whether the
// engine answers, from every call's outcome and from Watch's checks;
// while it is known to hang, calls fail at once until a check sees it
// answer again.
//
// # Engine versions
//
// The API version is negotiated with the engine, never pinned. Every field
// kaj sets exists at API 1.41 (Docker Engine 20.10). Older engines let two
// networks share a name, so Docker serialises its own network and database
// creation per app; two kaj processes on one engine are not supported.
//
// # Reaching containers
//
// Readiness probes dial the database container's address on its app
// network from this process, because the engine runs on this machine and
// its bridge networks are reachable from it; the database then needs no
// port on the host at all. A kaj whose engine is elsewhere passes its own
// dialer in WaitOptions. Health checks of apps go to the port the app
// publishes on the host, the way its users reach it.
package runtime
