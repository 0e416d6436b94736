package runtime_test

import (
	"fmt"
	"testing"

	"github.com/kajhq/kaj/runtime"
)

// BenchmarkDocker_ListAll lists one instance's containers among 1,000
// created (never started) ones, half of them another kaj instance's:
// ListAll (one engine call) against List (a list of every kaj container,
// then an inspect each).
// Run with: go test -run '^$' -bench ListAll -benchtime 20x ./runtime/
func BenchmarkDocker_ListAll(b *testing.B) {
	d, env := engine(b)
	ctx := b.Context()
	img, err := env.IdleImage(ctx)
	if err != nil {
		b.Fatal(err)
	}
	mine := env.WithLabels(map[string]string{"owner": "a"})
	err = env.CreateIdle(ctx, img, 1000, func(i int) string { return env.Name(fmt.Sprint("idle-", i)) }, func(i int) map[string]string {
		inst := "a"
		if i%2 == 1 {
			inst = "b"
		}
		return map[string]string{runtime.LabelManaged: "true", runtime.LabelApp: fmt.Sprintf("app-%d", i/2), runtime.LabelRole: "app", runtime.LabelRelease: "1", "owner": inst}
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("ListAll", func(b *testing.B) {
		for b.Loop() {
			got, err := d.ListAll(ctx, mine)
			if err != nil || len(got) != 500 {
				b.Fatalf("ListAll: %d containers, %v; want 500", len(got), err)
			}
		}
	})
	b.Run("List", func(b *testing.B) {
		for b.Loop() {
			if _, err := d.List(ctx, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
}
