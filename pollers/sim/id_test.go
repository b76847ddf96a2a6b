package sim

import (
	"regexp"
	"testing"
)

func TestUUID(t *testing.T) {
	shape := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for n := range uint64(10000) {
		id := UUID(n)
		if !shape.MatchString(id) || seen[id] {
			t.Fatalf("UUID(%d) = %q: malformed or repeated", n, id)
		}
		seen[id] = true
	}
	if UUID(42) != UUID(42) {
		t.Fatal("UUID is not reproducible")
	}
}

func TestMixIsABijectionOnASample(t *testing.T) {
	seen := map[uint64]bool{}
	for x := range uint64(100000) {
		if m := Mix(x); seen[m] {
			t.Fatalf("Mix(%d) repeats", x)
		} else {
			seen[m] = true
		}
	}
}
