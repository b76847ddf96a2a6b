package envconf_test

import (
	"strings"
	"testing"

	"github.com/threadsync/threadsync/internal/envconf"
)

func TestWrap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"one", []string{"one"}},
		{"aaa bbb ccc", []string{"aaa bbb", "ccc"}},
		{"averyveryverylongword b", []string{"averyveryverylongword", "b"}},
	}
	for _, tt := range tests {
		got := envconf.Wrap(tt.in, 8)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("Wrap(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
