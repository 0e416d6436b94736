package deploy

import (
	"context"
	"sync"
)

// Claim is an app's lock taken ahead of an operation that runs later, in
// a job: checking that the app is free and starting the job is then one
// step, and of two callers racing for the app exactly one gets the claim
// and the other ErrBusy. Its methods are safe for concurrent use.
type Claim struct {
	d      *Deployer
	app    string
	once   sync.Once
	unlock func()
}

type claimKey struct{}

// Claim takes app's lock now; see Claim. It fails with ErrBusy while
// another operation on app runs or is claimed. The caller must call
// Release once the operation has ended.
func (d *Deployer) Claim(app string) (*Claim, error) {
	unlock, err := d.lock(app)
	if err != nil {
		return nil, err
	}
	return &Claim{d: d, app: app, unlock: unlock}, nil
}

// Within returns ctx carrying the claim: Deploy, Rollback and DeployBuild
// of the claimed app called with it run under the claim instead of taking
// the lock again.
func (c *Claim) Within(ctx context.Context) context.Context {
	return context.WithValue(ctx, claimKey{}, c)
}

// Release frees the app; calling it again does nothing.
func (c *Claim) Release() { c.once.Do(c.unlock) }

// lockFor is lock, unless ctx carries this deployer's claim on app: then
// the claim's holder releases it, not the operation.
func (d *Deployer) lockFor(ctx context.Context, app string) (func(), error) {
	if c, ok := ctx.Value(claimKey{}).(*Claim); ok && c.d == d && c.app == app {
		// A claim is taken after any watch of the app ended; one that
		// runs a second operation waits for the first one's watch.
		if err := d.waitWatch(app); err != nil {
			return nil, err
		}
		return func() {}, nil
	}
	return d.lock(app)
}
