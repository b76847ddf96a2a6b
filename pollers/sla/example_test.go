package sla_test

import (
	"fmt"
	"time"

	"github.com/threadsync/threadsync/pollers/sla"
)

func ExampleParse() {
	p, err := sla.Parse("support-hours", sla.Spec{
		ReplyWithin: "4h",
		WarnBefore:  "30m",
		Calendar: &sla.CalendarSpec{
			Timezone: "Europe/Paris",
			Hours:    map[string]string{"mon-fri": "09:00-12:30,13:30-18:00", "sat": "10:00-13:00"},
			Holidays: []string{"2026-12-25"},
		},
	})
	if err != nil {
		panic(err)
	}
	since := time.Date(2026, 6, 5, 15, 0, 0, 0, time.UTC) // Friday 17:00 in Paris
	fmt.Println("warn:", p.Warn(since))
	fmt.Println("due: ", p.Due(since))
	fmt.Println("open:", p.Business(since, since.Add(72*time.Hour)))

	_, err = sla.Parse("support-hours", sla.Spec{ReplyWithin: "4h", Calendar: &sla.CalendarSpec{
		Timezone: "Europe/Paris", Hours: map[string]string{"mon-frx": "09:00-18:00"}}})
	fmt.Println(err)
	// Output:
	// warn: 2026-06-06 10:30:00 +0000 UTC
	// due:  2026-06-06 11:00:00 +0000 UTC
	// open: 11h0m0s
	// sla policy "support-hours": calendar.hours: "mon-frx": unknown day "frx"; want mon, tue, wed, thu, fri, sat or sun
}
