package runtime

import "testing"

func TestOwnContainerID(t *testing.T) {
	if got := ownContainerID("testdata/mountinfo"); got != "3f4e9b2c1d0a8f7e6d5c4b3a29181716151413121110090807060504030201ff" {
		t.Fatalf("ownContainerID = %q", got)
	}
	if got := ownContainerID("/proc/self/mountinfo"); got != "" {
		t.Fatalf("the test process is not in a container, yet found %q", got)
	}
	if got := ownContainerID("testdata/no-such-file"); got != "" {
		t.Fatalf("a missing file gave %q", got)
	}
}
