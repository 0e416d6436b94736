package store

import (
	"fmt"
	"testing"
)

const benchApps = 10000

func benchStore(b *testing.B, n int) *Store {
	s := openTest(b)
	err := s.Update(func(tx *Tx) error {
		for i := range n {
			if _, err := tx.CreateApp(sampleApp(fmt.Sprintf("app-%d", i))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkStore_CreateApp is one app per transaction (an fsync each),
// into a store that already holds 10,000 apps.
func BenchmarkStore_CreateApp(b *testing.B) {
	s := benchStore(b, benchApps)
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.CreateApp(sampleApp(fmt.Sprintf("new-%d", i))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStore_App(b *testing.B) {
	s := benchStore(b, benchApps)
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.App(fmt.Sprintf("app-%d", i%benchApps)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStore_Apps10000(b *testing.B) {
	s := benchStore(b, benchApps)
	b.ResetTimer()
	for range b.N {
		apps, err := s.Apps()
		if err != nil || len(apps) != benchApps {
			b.Fatal(len(apps), err)
		}
	}
}
