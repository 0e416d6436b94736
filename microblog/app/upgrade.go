package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// migrator is what the boot needs of the store.
type migrator interface {
	Migrate(ctx context.Context) ([]string, error)
}

// retryPolicy bounds the wait for the database.
type retryPolicy struct {
	// retries after the first attempt; 0 means one attempt.
	retries int
	delay   time.Duration
	// sleep waits between attempts; tests pass one that does not.
	sleep func(context.Context, time.Duration) error
}

// upgrade runs the schema migrations, retrying while they fail, as the
// lesson's boot script does: a database container accepts connections
// seconds after it starts, so the first attempts are expected to fail.
// It returns the last error once the retries are spent, or ctx's error.
func upgrade(ctx context.Context, m migrator, p retryPolicy, log *slog.Logger) error {
	attempts := p.retries + 1
	for attempt := 1; ; attempt++ {
		applied, err := m.Migrate(ctx)
		if err == nil {
			for _, name := range applied {
				log.Info("applied migration", "migration", name)
			}
			log.Info("database is up to date")
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt >= attempts {
			return fmt.Errorf("upgrading database: gave up after %d attempts: %w", attempts, err)
		}
		log.Warn("upgrade failed, retrying in "+humanDelay(p.delay),
			"attempt", attempt, "of", attempts, "err", err)
		if err := p.sleep(ctx, p.delay); err != nil {
			return err
		}
	}
}

// humanDelay writes whole seconds the way the lesson's script does ("5 secs").
func humanDelay(d time.Duration) string {
	if d%time.Second == 0 {
		n := int(d / time.Second)
		if n == 1 {
			return "1 sec"
		}
		return fmt.Sprintf("%d secs", n)
	}
	return d.String()
}
