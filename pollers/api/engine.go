package api

import (
	"math"
	"strconv"
	"time"

	"github.com/threadsync/threadsync/events"
)

// EngineOptions are the options every provider takes, which the engine reads
// (package pollers) with the same rules: checked here too, they fail an
// account in the same style as the provider's own. Their defaults are per
// provider (pollers.Features), so none is declared here.
var EngineOptions = Options{
	&Option[time.Duration]{
		Name: "overlap", Want: "a non-negative duration such as 1m",
		Doc: "for incremental providers, how far behind the newest update seen each walk starts again",
		Parse: func(v string) (time.Duration, error) {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return 0, ErrInvalidOption
			}
			return d, nil
		},
	},
	&Option[float64]{
		Name: "requests_per_second", Want: "a positive number",
		Doc: "the account's request rate",
		Parse: func(v string) (float64, error) {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 || math.IsInf(f, 0) {
				return 0, ErrInvalidOption
			}
			return f, nil
		},
	},
	&Option[string]{
		Name: "quota", Want: "a name of 1 to 64 letters, digits, _ or -",
		Doc: "accounts with the same quota share one request budget across every replica",
		Parse: func(v string) (string, error) {
			if events.ValidToken("quota", v) != nil {
				return "", ErrInvalidOption
			}
			return v, nil
		},
	},
}
