package queue_test

import (
	"fmt"
	"time"

	"github.com/compatgate/compatgate/gate/queue"
)

func ExampleWindow() {
	// Open every Saturday at 22:30 for three hours, Berlin time.
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		fmt.Println(err)
		return
	}
	w, err := queue.ParseWindow("30 22 * * 6", 3*time.Hour, berlin)
	if err != nil {
		fmt.Println(err)
		return
	}
	sunday := time.Date(2026, 6, 14, 1, 0, 0, 0, berlin)
	fmt.Println(w.Contains(sunday))
	monday := time.Date(2026, 6, 15, 9, 0, 0, 0, berlin)
	fmt.Println(w.Contains(monday), w.Next(monday))
	// Output:
	// true
	// false 2026-06-20 22:30:00 +0200 CEST
}
