package checkpoint

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestThreadStateRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 4, 5, 123_000_000, time.UTC)
	fine := at.Add(456 * time.Nanosecond)
	cases := map[string]ThreadState{
		"empty":          {},
		"short version":  {Version: "m:5012"},
		"long version":   {Version: "2026-12-02T10:04:05.123Z|4|2026-12-02T10:04:05.123Z", MsgAt: at, MsgIDs: []string{"m-9"}, LastMsgID: "m-9"},
		"seen ids":       {Version: "v1", MsgAt: fine, MsgIDs: []string{"a", "b"}, LastMsgID: "b"},
		"no ids yet":     {Version: "v1", MsgAt: at, MsgIDs: []string{}, LastMsgID: "x"},
		"open episode":   {Version: "v2", MsgAt: at, LastMsgID: "m-2", ReplySince: at, LastInbound: "m-2"},
		"older episode":  {Version: "v2", MsgAt: at, LastMsgID: "m-3", ReplySince: at.Add(-time.Hour), LastInbound: "m-1"},
		"quiet":          {Version: "v3", ReplySince: at, Quiet: true},
		"deadlines":      {Version: "v4", ReplySince: at, Policy: "gold", DueAt: at.Add(time.Hour), WarnAt: fine, Warned: true, Breached: true},
		"skipped":        {Version: "v5", Skipped: &Skipped{MsgAt: at, MsgIDs: []string{"s-1", "s-2"}}},
		"skipped nil":    {Version: "v5", Skipped: &Skipped{MsgAt: at}},
		"epoch":          {Version: "v6", MsgAt: time.Unix(0, 0).UTC()},
		"before 1970":    {Version: "v7", MsgAt: time.Date(1969, 7, 20, 20, 17, 0, 1, time.UTC)},
		"empty last id":  {Version: "v8", MsgAt: at, MsgIDs: []string{""}},
		"unicode":        {Version: "é|✓", LastMsgID: "ünï", LastInbound: "ünï"},
		"all flags":      {Version: strings.Repeat("x", 40), MsgAt: fine, MsgIDs: []string{"p", "q"}, LastMsgID: "q", ReplySince: fine.Add(-time.Minute), LastInbound: "p", Quiet: true, Policy: "p1", DueAt: at, WarnAt: at, Warned: true, Breached: true, Skipped: &Skipped{MsgAt: fine, MsgIDs: []string{}}},
		"digest already": {Version: versionDigest(strings.Repeat("y", 30)), MsgAt: at},
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := in.marshal()
			if err != nil {
				t.Fatal(err)
			}
			out, err := unmarshalState(b)
			if err != nil {
				t.Fatalf("%x: %v", b, err)
			}
			want := in
			if len(in.Version) > 8 && !strings.HasPrefix(in.Version, digestMark) {
				want.Version = versionDigest(in.Version)
			}
			if !reflect.DeepEqual(*out, want) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", *out, want)
			}
			if !out.SameVersion(in.Version) {
				t.Fatalf("stored version %q is not the same as %q", out.Version, in.Version)
			}
			if in.Version != "" && out.SameVersion(in.Version+"!") {
				t.Fatalf("stored version %q taken for a changed one", out.Version)
			}
		})
	}
}

// A state that a poll keeps for a typical thread, an open reply-needed
// episode included, fits Redis' listpack values (64 bytes), whatever the
// length of the provider's version.
func TestThreadStateSize(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 4, 5, 123_000_000, time.UTC)
	st := ThreadState{
		Version:   "1764669845123|1764669845123|OPEN|161|0|2026-12-02T10:04:05.123Z",
		MsgAt:     at,
		MsgIDs:    []string{"9f3c2a1e-77b0-4c55-9c1e-3d0d3f6a0b21"},
		LastMsgID: "9f3c2a1e-77b0-4c55-9c1e-3d0d3f6a0b21", ReplySince: at,
		LastInbound: "9f3c2a1e-77b0-4c55-9c1e-3d0d3f6a0b21",
	}
	b, _ := st.marshal()
	if len(b) > 64 {
		t.Fatalf("a typical state takes %d bytes: %x", len(b), b)
	}
	old, _ := json.Marshal(stateJSON{Version: st.Version, MsgAt: nanos(st.MsgAt), MsgIDs: st.MsgIDs, LastMsgID: st.LastMsgID,
		ReplySince: nanos(st.ReplySince), LastInbound: st.LastInbound})
	t.Logf("binary %d bytes, JSON %d bytes", len(b), len(old))
}

// States stored as JSON, as earlier releases wrote them, still read.
func TestThreadStateReadsJSON(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 4, 5, 0, time.UTC)
	raw := `{"v":"v9","t":` + strconv.FormatInt(at.UnixNano(), 10) + `,"i":["a"],"m":"a","r":` + strconv.FormatInt(at.UnixNano(), 10) + `,"n":"a","p":"gold","d":` + strconv.FormatInt(at.Add(time.Hour).UnixNano(), 10) + `,"x":true,"k":{"t":` + strconv.FormatInt(at.UnixNano(), 10) + `,"i":["a"]}}`
	st, err := unmarshalState([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := ThreadState{Version: "v9", MsgAt: at, MsgIDs: []string{"a"}, LastMsgID: "a", ReplySince: at, LastInbound: "a",
		Policy: "gold", DueAt: at.Add(time.Hour), Warned: true, Skipped: &Skipped{MsgAt: at, MsgIDs: []string{"a"}}}
	if !reflect.DeepEqual(*st, want) {
		t.Fatalf("got %+v\nwant %+v", *st, want)
	}
}

func TestThreadStateRefusesDamage(t *testing.T) {
	b, _ := (&ThreadState{Version: "v1", MsgAt: time.Now(), LastMsgID: "m-1", Policy: "p"}).marshal()
	for n := range len(b) {
		if _, err := unmarshalState(b[:n]); err == nil {
			t.Errorf("state cut to %d of %d bytes read without error", n, len(b))
		}
	}
	for _, bad := range [][]byte{{2, 0}, append(append([]byte{}, b...), 0), {stateForm, 0xff, 0xff, 0xff, 0xff, 0x0f}} {
		if _, err := unmarshalState(bad); err == nil {
			t.Errorf("%x read without error", bad)
		}
	}
}

func FuzzThreadState(f *testing.F) {
	b, _ := (&ThreadState{Version: "v1", MsgAt: time.Now(), MsgIDs: []string{"a", "b"}, LastMsgID: "b"}).marshal()
	f.Add(b)
	f.Add([]byte(`{"v":"x"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		st, err := unmarshalState(raw)
		if err != nil {
			return
		}
		again, err := st.marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := unmarshalState(again)
		if err != nil || !reflect.DeepEqual(back, st) {
			t.Fatalf("state %+v does not survive a second round trip: %+v %v", st, back, err)
		}
	})
}
